"""Shared set-up for benchmarks: their own embedded servers (``.verity/bench``), migrations,
worker processes, timing helpers and a description of the machine."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON_DOCS = Path(os.environ.get("PYTHON_DOCS_HTML", "/usr/share/doc/python3.11/html"))
EVAL_SET = Path(os.environ.get("VERITY_EVAL_SET", str(ROOT.parent / "shared" / "eval" / "python311_dev_qa.jsonl")))
DOCS_COLLECTION = "Python 3.11 documentation"


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("VERITY_DATA_DIR", str(ROOT / ".verity" / "bench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GiB RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values: list[float]) -> str:
    return f"p50 {percentile(values, 50):.1f} ms, p95 {percentile(values, 95):.1f} ms, mean {statistics.fmean(values):.1f} ms (n={len(values)})"


def worker_start(env: dict[str, str], *, concurrency: int = 2, name: str = "bench") -> subprocess.Popen[bytes]:
    """A real Celery worker (prefork, ``concurrency`` processes) with the given environment."""
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", f"--concurrency={concurrency}",
               "--loglevel=WARNING", f"--hostname={name}-{os.getpid()}@%h"]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def process_stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


@contextmanager
def workers(concurrency: int = 2) -> Iterator[subprocess.Popen[bytes]]:
    """A worker against the bench servers, for the length of a ``with`` block."""
    from django.conf import settings

    env = dict(os.environ, DATABASE_URL=settings.DATABASE_URL, REDIS_URL=settings.REDIS_URL, PYTHONUNBUFFERED="1")
    process = worker_start(env, concurrency=concurrency)
    try:
        time.sleep(1)
        yield process
    finally:
        process_stop(process)


def process_tree_peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process and its children, in MB."""
    import psutil

    total = 0.0
    try:
        parent = psutil.Process(pid)
        for proc in [parent, *parent.children(recursive=True)]:
            try:
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1]) / 1024
            except OSError:
                continue
    except psutil.NoSuchProcess:
        return 0.0
    return total


def bench_user(username: str, password: str) -> object:
    """A user who reads the Python docs collection, with no budget limits (benchmarks ask
    thousands of questions a day)."""
    from django.contrib.auth import get_user_model

    from ingestion.models import Collection
    from qa.models import BudgetPolicy

    user, _ = get_user_model().objects.get_or_create(username=username)
    user.set_password(password)
    user.save()
    Collection.objects.get(name=DOCS_COLLECTION).reader_users.add(user)
    BudgetPolicy.objects.all().delete()
    BudgetPolicy.objects.create(
        user_daily_questions_soft=0, user_daily_questions_hard=0, user_daily_tokens_soft=0, user_daily_tokens_hard=0,
        user_daily_cost_soft=0, user_daily_cost_hard=0, monthly_cost_soft=0, monthly_cost_hard=0,
    )  # fmt: skip
    return user
