"""Benchmark of issue #4: answers through the real websocket, end to end.

    .venv/bin/python bench/answer_latency.py [--rounds 2]

Starts daphne and a Celery worker against the bench servers (the Python docs must be ingested:
bench/ingest_python_docs.py), signs a client in, and asks every question of the eval set
``--rounds`` times over /ws/chat/, (a) with the extractive provider and (b) with a simulated
OpenAI-compatible model (300 ms to first token, 50 tokens/s). Prints time to first token and
total time (p50, p95) seen by the client, the app's own overhead (client first token minus
the model's own first-token time, from the interaction log), and, for the extractive provider,
correct answers on answerable items and declines on unanswerable ones.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
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
from evaluation.simulated_llm import Simulator  # noqa: E402

PASSWORD = "bench-password-123"  # noqa: S105 - a local benchmark account
ANSWERABLE = {"factoid", "procedural", "explanatory", "multi_hop", "paraphrase"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def login(base: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"{base}/accounts/login/").read()
    token = next(c.value for c in jar if c.name == "csrftoken")
    data = urllib.parse.urlencode(
        {"username": "bench-asker", "password": PASSWORD, "csrfmiddlewaretoken": token}
    ).encode()
    request = urllib.request.Request(
        f"{base}/accounts/login/", data=data, headers={"Referer": f"{base}/accounts/login/"}
    )
    opener.open(request).read()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def ask_over_websocket(base: str, cookie: str, question: str) -> tuple[float, float, int]:
    from websockets.sync.client import connect

    ws_url = base.replace("http://", "ws://") + "/ws/chat/"
    with connect(ws_url, additional_headers={"Cookie": cookie, "Origin": base}, open_timeout=10) as socket:
        started = time.perf_counter()
        socket.send(json.dumps({"question": question}))
        first = None
        answer_id = 0
        while True:
            message = socket.recv(timeout=120)
            if not answer_id:
                match = re.search(r'id="answer-(\d+)"', message)
                answer_id = int(match.group(1)) if match else 0
            now = time.perf_counter()
            if first is None and ("beforeend:#answer-" in message or "bubble answer final" in message):
                first = now
            if "bubble answer final" in message:
                return (first - started) * 1000, (now - started) * 1000, answer_id


def correct(text: str, groups: list[list[str]]) -> bool:
    lowered = text.lower()
    return all(any(alt.lower() in lowered for alt in group) for group in groups)


def run_mode(label: str, env_extra: dict[str, str], items: list[dict], rounds: int) -> dict[str, float]:
    from django.conf import settings

    from qa.models import Answer, Interaction

    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=settings.DATABASE_URL,
        REDIS_URL=settings.REDIS_URL,
        PYTHONUNBUFFERED="1",
        QA_CACHE_ENABLED="false",  # this benchmark measures generation; bench/cache_speed.py measures hits
        # One bench user asks faster than a person may: no rate limits here.
        VERITY_RATE_QUESTIONS_PER_MINUTE="0",
        VERITY_RATE_API_PER_MINUTE="0",
        **env_extra,
    )
    web = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = worker_start(env, name="bench-answers")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz")
        time.sleep(8)  # the worker loads the embedding model at start (worker_process_init)
        cookie = login(base)
        ask_over_websocket(base, cookie, "warm up: what is a list comprehension?")
        ttft, total, overhead, ids = [], [], [], []
        for _ in range(rounds):
            for item in items:
                first_ms, total_ms, answer_id = ask_over_websocket(base, cookie, item["question"])
                ttft.append(first_ms)
                total.append(total_ms)
                ids.append((item, answer_id))
                model_first = (
                    Interaction.objects.filter(answer_id=answer_id)
                    .order_by("-created_at")
                    .values_list("first_token_ms", flat=True)
                    .first()
                )
                if model_first is not None:
                    overhead.append(first_ms - model_first)
        print(f"[{label}] {len(ttft)} questions over the websocket")
        print(f"[{label}] first token seen by the client: {summary_ms(ttft)}")
        print(f"[{label}] complete answer:                {summary_ms(total)}")
        if overhead:
            print(f"[{label}] app overhead (client first token - model first token): {summary_ms(overhead)}")
        answers = {a.pk: a for a in Answer.objects.filter(pk__in=[i for _, i in ids])}
        answerable = [(it, answers[i]) for it, i in ids[: len(items)] if it["type"] in ANSWERABLE]
        unanswerable = [(it, answers[i]) for it, i in ids[: len(items)] if it["type"] == "unanswerable"]
        right = sum(1 for it, a in answerable if a.status == "answered" and correct(a.text, it["must_contain_any"]))
        false_declines = sum(1 for _, a in answerable if a.status != "answered")
        declined = sum(1 for _, a in unanswerable if a.status != "answered")
        print(
            f"[{label}] correct on answerable: {right}/{len(answerable)}; falsely declined {false_declines}/{len(answerable)}; "
            f"declined unanswerable: {declined}/{len(unanswerable)}"
        )
        return {
            "ttft_p50": percentile(ttft, 50),
            "ttft_p95": percentile(ttft, 95),
            "total_p95": percentile(total, 95),
            "overhead_p95": percentile(overhead, 95) if overhead else float("nan"),
        }
    finally:
        for process in (web, worker):
            process_stop(process)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2, help="times each of the 50 questions is asked")
    parser.add_argument("--first-token-ms", type=float, default=300)
    parser.add_argument("--tokens-per-second", type=float, default=50)
    args = parser.parse_args()
    django_setup()
    print(f"machine: {machine()}")
    bench_user("bench-asker", PASSWORD)
    items = [json.loads(line) for line in EVAL_SET.read_text().splitlines() if line.strip()]
    results = {
        "extractive": run_mode(
            "extractive", {"LLM_PROVIDER": "extractive", "LLM_FALLBACK_CHAIN": "extractive"}, items, args.rounds
        )
    }
    sim = Simulator(first_token_ms=args.first_token_ms, tokens_per_second=args.tokens_per_second).start()
    try:
        label = f"simulated LLM ({args.first_token_ms:.0f} ms first token, {args.tokens_per_second:.0f} tok/s)"
        results["simulated"] = run_mode(
            label,
            {
                "LLM_PROVIDER": "openai_compatible",
                "QA_ROUTE_LOOKUP_TIER": "small",  # every question to the simulated model
                "LLM_FALLBACK_CHAIN": "extractive",
                "OPENAI_BASE_URL": sim.url,
                "OPENAI_MODEL": "sim-model-2026-01",
            },
            items,
            args.rounds,
        )
    finally:
        sim.stop()
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "answer_latency.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
