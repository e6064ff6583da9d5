"""Settings: production stops with one line when a setting is missing and `check --deploy` is
clean; base is safe by default (no key, DEBUG off, no trusted proxy header); local opts in."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from config.env import secret_key_from_file
from tests.helpers import ROOT

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DATABASE_URL": "postgresql://verity:secret@db.internal:5432/verity",
    "REDIS_URL": "redis://cache.internal:6379",
    "SECRET_KEY": "x9-Kq2vB7nT4mW8pL1sD6fG3hJ5kZ0cV-rY7uI2oP4aS6dF8gH1jK3lQ5wE7rT9y",
    "ALLOWED_HOSTS": "verity.example.com",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_with_production_settings_is_clean() -> None:
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS"])
def test_missing_production_setting_is_one_line_with_the_fix(missing: str) -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = _manage("check", env=env)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]] and lines[0].startswith(f"error: setting {missing} is missing"), result.stderr
    assert "set it" in lines[0]


# --------------------------------------------------------------------------- safe defaults
def _settings_probe(module: str, code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh process with only ``env`` deciding the secret key, DEBUG and proxy
    settings (the suite's own values of those are removed)."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "VERITY_DEBUG", "VERITY_BEHIND_PROXY"}
    }
    script = f"import django\ndjango.setup()\nfrom django.conf import settings\n{code}"
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": module, "VERITY_EMBEDDED_SERVERS": "false", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_base_settings_have_debug_off_and_no_secret_key(tmp_path: Path) -> None:
    code = (
        "from django.core.exceptions import ImproperlyConfigured\n"
        "print('debug', settings.DEBUG)\n"
        "try:\n    settings.SECRET_KEY\nexcept ImproperlyConfigured:\n    print('no secret key')\n"
    )
    result = _settings_probe("config.settings.base", code, {"VERITY_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["debug False", "no secret key"]
    assert not (tmp_path / "secret_key").exists()


def test_local_settings_opt_in_to_debug_and_a_random_key_kept_in_the_data_folder(tmp_path: Path) -> None:
    code = "print(settings.DEBUG, settings.SECRET_KEY)"
    first = _settings_probe("config.settings.local", code, {"VERITY_DATA_DIR": str(tmp_path / "a")})
    again = _settings_probe("config.settings.local", code, {"VERITY_DATA_DIR": str(tmp_path / "a")})
    other = _settings_probe("config.settings.local", code, {"VERITY_DATA_DIR": str(tmp_path / "b")})
    assert first.returncode == 0, first.stderr
    debug, key = first.stdout.split()
    assert debug == "True"
    assert len(key) >= 50 and "verity" not in key.lower()
    key_file = tmp_path / "a" / "secret_key"
    assert key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert again.stdout.split()[1] == key  # kept across restarts: sessions survive
    assert other.stdout.split()[1] != key  # each data folder (checkout) its own


def test_local_settings_use_the_environment_key_and_debug_when_given(tmp_path: Path) -> None:
    env = {"VERITY_DATA_DIR": str(tmp_path), "SECRET_KEY": "k" * 60, "VERITY_DEBUG": "false"}
    result = _settings_probe("config.settings.local", "print(settings.DEBUG, settings.SECRET_KEY)", env)
    assert result.stdout.split() == ["False", "k" * 60], result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_concurrent_first_runs_agree_on_one_local_key(tmp_path: Path) -> None:
    # The run command starts web, worker and beat at once: they must not each write a key.
    path = tmp_path / "secret_key"
    barrier = threading.Barrier(8)

    def read_key() -> str:
        barrier.wait()
        return secret_key_from_file(path)

    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(lambda _: read_key(), range(8)))
    assert keys == {path.read_text().strip()}
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no drafts left behind


_IS_SECURE = (
    "from django.test import RequestFactory\n"
    "print(RequestFactory().get('/', headers={'x-forwarded-proto': 'https'}).is_secure())"
)


def test_forwarded_proto_is_ignored_unless_a_proxy_is_declared() -> None:
    # Without a proxy in front, any client could claim HTTPS with this header.
    result = _settings_probe("config.settings.production", _IS_SECURE, PRODUCTION_ENV)
    assert result.stdout.strip() == "False", result.stderr


def test_forwarded_proto_is_trusted_behind_a_declared_proxy() -> None:
    env = {**PRODUCTION_ENV, "VERITY_BEHIND_PROXY": "true"}
    result = _settings_probe("config.settings.production", _IS_SECURE, env)
    assert result.stdout.strip() == "True", result.stderr
