"""The run command's second half (``./run.sh`` creates the virtualenv, then runs this).

Starts the embedded servers when no external ones are configured, migrates, bootstraps the
admin, demo users and demo corpus, then runs web (daphne), worker and beat as children and
prints the URL. Ctrl-C (or SIGTERM) stops every child and the embedded servers; nothing is
left running. Faults at start-up print one line naming the cause and the fix, and exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from config.env import env_int
from core import embedded
from core.errors import StartupError

ROOT = embedded.PROJECT_ROOT
STOP_GRACE_SECONDS = 15


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None


@dataclass
class Launcher:
    host: str
    port: int
    worker_concurrency: int
    children: list[Child] = field(default_factory=list)
    embedded_db: bool = False
    embedded_redis: bool = False
    lock_file: IO[str] | None = None
    stopping: bool = False

    # ------------------------------------------------------------------ start-up checks
    def check_port(self) -> None:
        with socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((self.host, self.port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise StartupError(
                        f"port {self.port} on {self.host} is already in use; stop the process using it "
                        f"or choose another port with VERITY_PORT={self.port + 1}"
                    ) from exc
                raise StartupError(
                    f"cannot listen on {self.host}:{self.port} ({exc.strerror}); set VERITY_HOST/VERITY_PORT"
                ) from exc

    def lock_data_dir(self) -> None:
        root = embedded.data_dir()
        embedded._check_folder(root)
        path = root / "run.lock"
        try:
            handle = path.open("a+")
        except OSError as exc:
            raise StartupError(
                f"cannot open {path} ({exc.strerror}); fix the data folder's permissions or set VERITY_DATA_DIR"
            ) from exc
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            raise StartupError(
                f"data folder {root} is locked by another Verity run (pid {owner}); stop that run first, "
                "or set VERITY_DATA_DIR to another folder"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self.lock_file = handle

    # ------------------------------------------------------------------ servers
    def start_servers(self) -> None:
        if not os.environ.get("DATABASE_URL"):
            self.embedded_db = True
            _say("starting embedded PostgreSQL 16 + pgvector …")
            os.environ["DATABASE_URL"] = embedded.postgres_ensure()
        if not os.environ.get("REDIS_URL"):
            self.embedded_redis = True
            _say("starting embedded Redis …")
            os.environ["REDIS_URL"] = embedded.redis_ensure()

    def stop_servers(self) -> None:
        if self.embedded_redis:
            _say("stopping embedded Redis")
            embedded.redis_stop()
        if self.embedded_db:
            _say("stopping embedded PostgreSQL")
            embedded.postgres_stop()

    # ------------------------------------------------------------------ Django steps
    def manage(self, *args: str) -> None:
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, check=False)
        if result.returncode != 0:
            raise StartupError(f"`manage.py {' '.join(args)}` failed (exit {result.returncode}); see the output above")

    # ------------------------------------------------------------------ children
    def plan_children(self) -> None:
        python = sys.executable
        beat_schedule = str(embedded.data_dir() / "celerybeat-schedule")
        # The launcher does not load Django settings: the same variable and default as
        # WEBSOCKET_MAX_MESSAGE_BYTES in config/settings/base.py.
        websocket_max = env_int("WEBSOCKET_MAX_MESSAGE_BYTES", 64 * 1024)
        self.children = [
            Child(
                "web",
                [
                    python,
                    "-m",
                    "daphne",
                    "-b",
                    self.host,
                    "-p",
                    str(self.port),
                    # Larger websocket frames are refused by the server itself (close 1009), before
                    # they are buffered for the application; the consumers check the same limit.
                    f"--websocket-max-message-size={websocket_max}",
                    f"--websocket-max-frame-size={websocket_max}",
                    "config.asgi:application",
                ],
            ),
            Child(
                "worker",
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "--loglevel=INFO",
                    f"--concurrency={self.worker_concurrency}",
                    "--hostname=worker@%h",
                ],
            ),
            Child(
                "beat",
                [python, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO", f"--schedule={beat_schedule}"],
            ),
        ]

    def reset_metrics(self) -> None:
        """The children's metrics files start empty (``core.metrics``): a dead run's files would
        be summed into this run's counters. The same folder as the settings' default."""
        from core.metrics import MULTIPROC_ENV, metrics_multiproc_dir_reset

        os.environ.setdefault(MULTIPROC_ENV, str(embedded.data_dir() / "prometheus"))
        metrics_multiproc_dir_reset(path=Path(os.environ[MULTIPROC_ENV]))

    def start_children(self) -> None:
        for child in self.children:
            # Own session: the terminal's Ctrl-C reaches only the launcher, which then stops
            # the children in order and waits for them.
            child.process = subprocess.Popen(child.argv, cwd=ROOT, start_new_session=True)
            _say(f"started {child.name} (pid {child.process.pid})")

    def wait_for_web(self, timeout: float = 60.0) -> None:
        url = f"http://{self._url_host()}:{self.port}/healthz"
        deadline = time.monotonic() + timeout
        web = self.children[0].process
        while time.monotonic() < deadline:
            if web is not None and web.poll() is not None:
                raise StartupError(f"the web server exited at start-up (exit {web.returncode}); see its output above")
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return
            time.sleep(0.2)
        raise StartupError(f"the web server did not answer {url} within {timeout:.0f} s")

    def stop_children(self) -> None:
        for child in reversed(self.children):
            if child.process and child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in self.children:
            if child.process is None:
                continue
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                _say(f"{child.name} did not stop within {STOP_GRACE_SECONDS} s; killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
            # Kill any grandchild left in the child's process group (celery pool processes).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGKILL)

    def supervise(self) -> int:
        while not self.stopping:
            for child in self.children:
                if child.process is not None and child.process.poll() is not None:
                    _say(f"{child.name} exited unexpectedly (exit {child.process.returncode}); stopping Verity")
                    return 1
            time.sleep(0.5)
        return 0

    def _url_host(self) -> str:
        return {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(self.host, self.host)  # noqa: S104


def _say(message: str) -> None:
    print(f"[verity] {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Verity: servers, web, worker and beat.")
    parser.add_argument("--host", default=os.environ.get("VERITY_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("VERITY_PORT", "8000")))
    parser.add_argument("--worker-concurrency", type=int, default=int(os.environ.get("VERITY_WORKER_CONCURRENCY", "2")))
    parser.add_argument("--no-demo", action="store_true", help="skip demo users and the demo corpus")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")

    launcher = Launcher(host=args.host, port=args.port, worker_concurrency=args.worker_concurrency)

    def request_stop(signum: int, frame: object) -> None:
        launcher.stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    code = 0
    try:
        launcher.check_port()
        launcher.lock_data_dir()
        launcher.start_servers()
        launcher.manage("migrate", "--noinput")
        launcher.manage("bootstrap", *(["--no-demo"] if args.no_demo else []))
        launcher.plan_children()
        launcher.reset_metrics()
        launcher.start_children()
        launcher.wait_for_web()
        _say(f"Verity is running at http://{launcher._url_host()}:{launcher.port}/  (Ctrl-C stops everything)")
        code = launcher.supervise()
    except StartupError as exc:
        sys.stderr.write(f"error: {exc}\n")
        code = 2
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        launcher.stop_children()
        launcher.stop_servers()
        if launcher.lock_file is not None:
            launcher.lock_file.close()
        _say("stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
