"""The judge verifier: a configured model decides which sentences the passages support; when it
fails, the evidence verifier decides."""

from __future__ import annotations

import json


class _JudgeServer:
    """A loopback OpenAI-compatible endpoint that answers a judge prompt with fixed JSON."""

    def __init__(self, content: str, status: int = 200) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        server = self
        self.prompts: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.prompts.append(body["messages"][0]["content"])
                data = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _three_passages() -> list:
    from providers.llm.base import ContextPassage

    texts = ["Alpha ships on Mondays.", "Beta ships on Tuesdays.", "Gamma ships on Fridays."]
    return [ContextPassage(n, n, 1, "T", "", None, "s.md", t) for n, t in enumerate(texts, start=1)]


def test_a_configured_judge_model_decides_support() -> None:
    from providers.registry import embedding_provider_default
    from qa.checks.verification import EvidenceVerifier, JudgeVerifier, answer_verify

    judge = _JudgeServer('{"scores": [[0.9, 0.0, 0.0], [0.0, 0.1, 0.0]]}')
    try:
        verifier = JudgeVerifier(
            url=judge.url, model="judge-1", api_key="", fallback=EvidenceVerifier(embedder=embedding_provider_default())
        )
        result = answer_verify(
            text="Alpha ships on Mondays [1]. Beta ships on Sundays [2].", passages=_three_passages(), verifier=verifier
        )
    finally:
        judge.close()
    assert "Beta ships on Sundays" in judge.prompts[0]
    assert result.text == "Alpha ships on Mondays [1]." and result.verifier == "judge-v1"


def test_a_failing_judge_falls_back_to_the_evidence_verifier() -> None:
    from providers.registry import embedding_provider_default
    from qa.checks.verification import EvidenceVerifier, JudgeVerifier, answer_verify

    judge = _JudgeServer("not json at all")
    try:
        verifier = JudgeVerifier(
            url=judge.url, model="judge-1", api_key="", fallback=EvidenceVerifier(embedder=embedding_provider_default())
        )
        result = answer_verify(
            text="Alpha ships on Mondays [1]. Gamma ships on Fridays [1].",
            passages=_three_passages(),
            verifier=verifier,
        )
    finally:
        judge.close()
    assert result.text == "Alpha ships on Mondays [1]. Gamma ships on Fridays [3]."
