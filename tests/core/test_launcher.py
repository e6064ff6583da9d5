"""The run command's launcher end to end: embedded servers, migrate, bootstrap, web, worker and
beat; Ctrl-C leaves nothing running; a second run keeps the first run's data."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from core import embedded
from tests.helpers import ROOT, free_port

pytestmark = pytest.mark.slow


def _start(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(
        VERITY_DATA_DIR=str(data_dir),
        VERITY_PORT=str(port),
        VERITY_WORKER_CONCURRENCY="1",
        VERITY_ADMIN_PASSWORD="admin-pass-123",
        VERITY_DEMO_PASSWORD="demo-pass-123",
        PYTHONUNBUFFERED="1",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "core.launcher"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


class _Output:
    """Collects a process's output on a thread so the test can wait for a line without blocking."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.text = ""
        self._thread = threading.Thread(target=self._pump, args=(process,), daemon=True)
        self._thread.start()

    def _pump(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.text += line

    def wait_for(self, marker: str, process: subprocess.Popen[str], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker in self.text:
                return self.text
            if process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{marker!r} not seen; output so far:\n{self.text[-4000:]}")

    def finish(self) -> str:
        self._thread.join(timeout=30)
        return self.text


def _get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _stop(process: subprocess.Popen[str], output: _Output) -> str:
    process.send_signal(signal.SIGINT)
    process.wait(timeout=90)
    return output.finish()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1][:1] != "Z"


def test_run_serves_verity_and_ctrl_c_leaves_nothing_running(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    process = _start(data_dir, port)
    collected = _Output(process)
    try:
        output = collected.wait_for("Verity is running at", process, timeout=240)
        assert f"http://127.0.0.1:{port}/" in output
        assert "demo" in output and "passwords are shown this once" in output
        deadline = time.monotonic() + 60
        status, body = _get_json(f"http://127.0.0.1:{port}/readyz")
        while status != 200 and time.monotonic() < deadline:
            time.sleep(1)
            status, body = _get_json(f"http://127.0.0.1:{port}/readyz")
        assert status == 200, body
        child_pids = [int(pid) for pid in re.findall(r"started \w+ \(pid (\d+)\)", output)]
        assert len(child_pids) == 3
        redis_pid = int((data_dir / "redis" / "redis.pid").read_text())
        postgres_pid = int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
    finally:
        output = _stop(process, collected)
    assert process.returncode == 0, output
    for pid in [*child_pids, redis_pid, postgres_pid]:
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), f"pid {pid} still running after Ctrl-C"

    # A second run keeps the first run's data: no account is created again.
    process = _start(data_dir, port)
    collected = _Output(process)
    try:
        output = collected.wait_for("Verity is running at", process, timeout=240)
        assert "passwords are shown this once" not in output
        assert "Demo corpus: 4 document(s)" in output
    finally:
        _stop(process, collected)
        embedded.stop_all(data_dir)
    assert process.returncode == 0


def test_second_launcher_on_the_same_data_is_refused_in_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    holder = open(data_dir / "run.lock", "a+")  # noqa: SIM115 - held for the test's duration
    import fcntl

    fcntl.flock(holder.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        process = _start(data_dir, free_port())
        output, _ = process.communicate(timeout=60)
    finally:
        holder.close()
    assert process.returncode == 2
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "locked by another Verity run" in errors[0], output
