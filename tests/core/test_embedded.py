from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection

from core import embedded
from core.errors import StartupError
from core.launcher import Launcher
from tests.helpers import ROOT


@pytest.mark.django_db
def test_database_is_postgresql_with_pgvector() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        assert cursor.fetchone() is not None
        cursor.execute("SELECT '[1,2,3]'::vector <=> '[1,2,4]'::vector")
        assert 0 < cursor.fetchone()[0] < 1
    assert connection.vendor == "postgresql"


def test_redis_is_a_real_server() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert client.ping() is True
    assert client.info("server")["redis_version"]


def test_embedded_redis_keeps_data_across_restarts(tmp_path: Path) -> None:
    root = tmp_path / "data"
    url = embedded.redis_ensure(root)
    try:
        redis.Redis.from_url(url).set("verity:test", "kept")
        embedded.redis_stop(root)
        with pytest.raises(redis.ConnectionError):
            redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
        url_again = embedded.redis_ensure(root)
        assert url_again == url
        assert redis.Redis.from_url(url).get("verity:test") == b"kept"
    finally:
        embedded.redis_stop(root)


def test_embedded_redis_is_reused_when_running(tmp_path: Path) -> None:
    root = tmp_path / "data"
    try:
        first = embedded.redis_ensure(root)
        pid = (root / "redis" / "redis.pid").read_text().strip()
        assert embedded.redis_ensure(root) == first
        assert (root / "redis" / "redis.pid").read_text().strip() == pid
    finally:
        embedded.redis_stop(root)


def test_unusable_data_folder_gives_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StartupError) as info:
        embedded.redis_ensure(blocker / "data")
    message = str(info.value)
    assert "\n" not in message
    assert "VERITY_DATA_DIR" in message


def test_port_in_use_is_named_with_the_fix() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(StartupError) as info:
            Launcher(host="127.0.0.1", port=port, worker_concurrency=1).check_port()
    assert f"port {port}" in str(info.value)
    assert "VERITY_PORT" in str(info.value)


def test_locked_data_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERITY_DATA_DIR", str(tmp_path))
    first = Launcher(host="127.0.0.1", port=0, worker_concurrency=1)
    first.lock_data_dir()
    try:
        with pytest.raises(StartupError) as info:
            Launcher(host="127.0.0.1", port=0, worker_concurrency=1).lock_data_dir()
        assert "locked by another Verity run" in str(info.value)
    finally:
        assert first.lock_file is not None
        first.lock_file.close()


def test_unix_socket_paths_stay_short(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    assert len(embedded.redis_url_for(deep)) - len("unix://") <= 100


def test_a_stale_postmaster_pid_of_a_killed_server_does_not_stop_the_next_start(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    embedded.postgres_ensure(root)
    embedded.postgres_stop(root)
    # What a server killed by SIGKILL leaves behind (its stop timed out under load): a pid file
    # naming a process that no longer exists.
    gone = subprocess.Popen(["true"])
    gone.wait()
    (root / "pgdata" / "postmaster.pid").write_text(f"{gone.pid}\n{root / 'pgdata'}\n")
    try:
        # A new process, as the next launcher run is (pgserver remembers servers per process).
        started = subprocess.run(
            [sys.executable, "-c", f"from pathlib import Path; from core import embedded; "
             f"print(embedded.postgres_ensure(Path({str(root)!r})))"],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        uri = started.stdout.strip().splitlines()[-1]
        with psycopg.connect(uri, connect_timeout=10) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        embedded.postgres_stop(root)
