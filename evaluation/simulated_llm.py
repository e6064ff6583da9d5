"""A simulated OpenAI-compatible chat endpoint for benchmarks and evaluation (a test double
at the model boundary): configurable first-token latency and tokens per second. It answers
from the prompt it receives (the first sentence of each of the first two passages, cited), so
its answers are grounded; ``hallucinate`` adds two invented sentences per answer, of five
kinds in rotation: a number in no passage, a made-up function, a negated copy of a passage
sentence, made-up names, and a plausible claim with no checkable detail. It records what it
invented (``invented``) so that an evaluation can count how many reached the user.

With ``instructed=True`` it replies as ``evaluation.instructed_llm`` does instead: it follows
the instructions of the prompt it receives and nothing else (the prompt suites' double, which
fails a suite when an instruction is lost).

    .venv/bin/python -m evaluation.simulated_llm --port 8011 --first-token-ms 300 --tokens-per-second 50
    .venv/bin/python -m evaluation.simulated_llm --port 8011 --instructed
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from evaluation.instructed_llm import PASSAGE, instructed_reply


def _negate(sentence: str) -> str | None:
    for verb in (" is ", " are ", " can ", " will ", " does ", " should "):
        if verb in sentence:
            return sentence.replace(verb, f"{verb}not ", 1)
    return None


def invented_sentences(prompt: str, firsts: list[str]) -> list[str]:
    """Two invented sentences for this prompt (deterministic), citing passage [1]."""
    seed = zlib.crc32(prompt.encode())
    kinds = [
        "This limit was raised to 7,919 in a later release",
        "You can also call `fetch_all_records()` to do this in one step",
        None,  # negated copy of the first passage's first sentence
        "This behaviour was designed by Margarethe Quillfeather at Northwind Labs",
        "In practice this is the fastest option for very large inputs and is what most projects use",
    ]
    out = []
    for offset in (0, 1):
        kind = kinds[(seed + offset * 2) % len(kinds)]
        if kind is None:
            negated = _negate(firsts[0].rstrip(".")) if firsts else None
            kind = negated or kinds[0]
        out.append(f"{kind} [1].")
    return out


def answer_from_prompt(prompt: str, hallucinate: bool) -> tuple[str, list[str]]:
    parts = []
    firsts = []
    for n, text in PASSAGE.findall(prompt)[:2]:
        sentence = re.split(r"(?<=[.!?])\s", " ".join(text.split()), maxsplit=1)[0]
        firsts.append(sentence)
        parts.append(f"{sentence} [{n}]")
    invented: list[str] = []
    if hallucinate and parts:
        invented = invented_sentences(prompt, firsts)
        parts.insert(1, invented[0])
        parts.append(invented[1])
    return " ".join(parts) or "The documents do not cover this.", invented


class Simulator:
    def __init__(
        self, *, port: int = 0, first_token_ms: float = 300, tokens_per_second: float = 50, hallucinate: bool = False,
        instructed: bool = False,
    ) -> None:  # fmt: skip
        sim = self
        self.first_token_ms = first_token_ms
        self.tokens_per_second = tokens_per_second
        self.hallucinate = hallucinate
        self.instructed = instructed
        self.invented: list[str] = []  # every invented sentence, in order
        self.requests = 0
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                messages = body.get("messages", [])
                prompt = "\n".join(m.get("content", "") for m in messages)
                invented: list[str] = []
                if sim.instructed:
                    text = instructed_reply(messages=messages)
                else:
                    text, invented = answer_from_prompt(prompt, sim.hallucinate)
                with sim._lock:
                    sim.invented.extend(invented)
                    sim.requests += 1
                words = text.split(" ")
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                time.sleep(sim.first_token_ms / 1000)
                for index, word in enumerate(words):
                    piece = ("" if index == 0 else " ") + word
                    chunk = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    if index < len(words) - 1 and sim.tokens_per_second:
                        time.sleep(1 / sim.tokens_per_second)
                usage = {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(words)}
                done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage}
                self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def start(self) -> Simulator:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--first-token-ms", type=float, default=300)
    parser.add_argument("--tokens-per-second", type=float, default=50)
    parser.add_argument("--hallucinate", action="store_true")
    parser.add_argument("--instructed", action="store_true", help="follow the prompt's instructions (prompt suites)")
    args = parser.parse_args()
    sim = Simulator(
        port=args.port,
        first_token_ms=args.first_token_ms,
        tokens_per_second=args.tokens_per_second,
        hallucinate=args.hallucinate,
        instructed=args.instructed,
    )
    print(f"simulated OpenAI-compatible endpoint at {sim.url}", flush=True)
    sim.httpd.serve_forever()


if __name__ == "__main__":
    main()
