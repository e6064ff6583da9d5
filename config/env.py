"""Small helpers that read settings from the environment (one place, typed)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from core.errors import StartupError


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_required(name: str, hint: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise StartupError(f"setting {name} is missing in production mode; {hint}")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise StartupError(f"setting {name}={raw!r} is not a boolean; use true or false")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise StartupError(f"setting {name}={raw!r} is not an integer") from exc


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise StartupError(f"setting {name}={raw!r} is not a number") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def secret_key_from_file(path: Path) -> str:
    """A random secret key kept in ``path`` (mode 0600), created on first use.

    For local and test settings only: each checkout gets its own key instead of one printed in
    the code (anyone who read a fixed key could forge sessions and password-reset links). The
    run command's web, worker and beat processes start together, so the file is written aside
    and linked into place: exactly one key wins and every process reads that one."""
    try:
        return _secret_key_read(path)
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        try:
            os.link(draft, path)  # fails if another process linked its key first: then read that one
        except FileExistsError:
            pass
        finally:
            draft.unlink()
        return _secret_key_read(path)
    except OSError as exc:
        raise StartupError(f"cannot keep the local secret key in {path} ({exc.strerror}); set SECRET_KEY") from exc


def _secret_key_read(path: Path) -> str:
    key = path.read_text().strip()
    if len(key) < 50:
        raise StartupError(f"the local secret key in {path} is shorter than 50 characters; delete the file")
    return key
