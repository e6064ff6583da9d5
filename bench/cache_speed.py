"""Benchmark 2 of issue #6: how fast is a cache hit, end to end?

    .venv/bin/python bench/cache_speed.py [--questions 50]

Starts daphne and a Celery worker against the bench servers (the Python docs must be ingested),
asks each answerable eval question once over the REST API (a miss: retrieval, the extractive
model, verification; the verified answer is cached), then asks it again reworded ("What's" /
"What is", no question mark) over the REST API, and reworded once more ("Quick question: ...")
over the websocket, timing each from the client: request sent -> final answer received. The misses are the baseline of
the same run (ratio).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.answer_latency import PASSWORD, ask_over_websocket, free_port, login, wait_http  # noqa: E402
from bench.common import (  # noqa: E402
    EVAL_SET,
    ROOT,
    bench_user,
    django_setup,
    machine,
    percentile,
    process_stop,
    summary_ms,
    worker_start,
)


def ask_api(base: str, token: str, question: str) -> tuple[float, dict]:
    request = urllib.request.Request(
        f"{base}/api/ask/", data=json.dumps({"question": question}).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        body = json.loads(response.read())
    return (time.perf_counter() - started) * 1000, body


def reword(question: str) -> str:
    q = question.rstrip("?").strip()
    if q.lower().startswith("what's "):
        q = "What is " + q[7:]
    elif q.lower().startswith("what is "):
        q = "What's " + q[8:]
    return q


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=50)
    args = parser.parse_args()
    django_setup()
    from django.conf import settings

    from core.services.api_tokens import api_token_create
    from qa.models import ReusableAnswer

    print(f"machine: {machine()}")
    user = bench_user("bench-asker", PASSWORD)
    token = api_token_create(user=user).token
    ReusableAnswer.objects.filter(origin="cached").delete()
    items = [json.loads(line) for line in EVAL_SET.read_text().splitlines() if line.strip()]
    questions = [i["question"] for i in items if i["type"] not in ("unanswerable", "high_stakes")]
    questions = (questions * 3)[: args.questions]

    port = free_port()
    # One bench user asks faster than a person may: no rate limits here.
    env = dict(os.environ, DATABASE_URL=settings.DATABASE_URL, REDIS_URL=settings.REDIS_URL, PYTHONUNBUFFERED="1")
    env.update(VERITY_RATE_QUESTIONS_PER_MINUTE="0", VERITY_RATE_API_PER_MINUTE="0")
    web = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    worker = worker_start(env, name="bench-cache")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz")
        time.sleep(8)  # the worker loads the embedding model at start
        cookie = login(base)
        ask_api(base, token, "warm up: what is a list comprehension?")
        ask_over_websocket(base, cookie, "warm up: what is a generator expression?")
        floor = []
        for _ in range(40):
            request = urllib.request.Request(f"{base}/api/me/", headers={"Authorization": f"Token {token}"})
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
            floor.append((time.perf_counter() - started) * 1000)
        misses, api_hits, ws_hits = [], [], []
        cached = 0
        for question in dict.fromkeys(questions):
            ms, body = ask_api(base, token, question)
            if not body["cache_hit"]:
                misses.append(ms)
            cached += ReusableAnswer.objects.filter(origin="cached", source_answer_id=body["id"]).exists()
        print(f"{len(misses)} first asks (misses, baseline) over the API; {cached} verified answers were cached")
        reworded = [reword(q) for q in dict.fromkeys(questions)]
        for question in reworded:
            ms, body = ask_api(base, token, question)
            if body["cache_hit"]:
                api_hits.append(ms)
        # Other wording again for the websocket: strings this web process has not embedded yet
        # (its query-embedding LRU would otherwise skip the model).
        for question in [f"Quick question: {q[0].lower()}{q[1:]}" for q in reworded]:
            _, total_ms, answer_id = ask_over_websocket(base, cookie, question)
            from qa.models import Answer

            if Answer.objects.filter(pk=answer_id, reused_from__isnull=False).exists():
                ws_hits.append(total_ms)
        print(f"floor: GET /api/me/ (auth, no work):      {summary_ms(floor)}")
        print(f"miss (API, extractive + verification):   {summary_ms(misses)}")
        print(f"cache hit over the REST API:             {summary_ms(api_hits)}")
        print(f"cache hit over the websocket:           {summary_ms(ws_hits)}")
        print(f"hits: {len(api_hits)}/{len(reworded)} (API), {len(ws_hits)}/{len(reworded)} (websocket)")
        print(f"ratio miss p95 / API hit p95: {percentile(misses, 95) / percentile(api_hits, 95):.1f}x; "
              f"target: hit p95 <= 50 ms -> API {'met' if percentile(api_hits, 95) <= 50 else 'MISSED'}, "
              f"websocket {'met' if percentile(ws_hits, 95) <= 50 else 'MISSED'}")  # fmt: skip
    finally:
        for process in (web, worker):
            process_stop(process)


if __name__ == "__main__":
    main()
