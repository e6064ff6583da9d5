"""The OpenAI-compatible provider against a local server that speaks the same protocol."""

from __future__ import annotations

import pytest

from providers.llm.base import LLMError, LLMRequest, StreamStats
from providers.llm.openai_compatible import OpenAICompatibleProvider
from tests.qa.fakes import FakeOpenAIServer

REQUEST = LLMRequest(
    question="q",
    messages=[{"role": "system", "content": "s"}, {"role": "user", "content": "q"}],
    passages=[],
    max_output_tokens=64,
)


def _provider(url: str, **kwargs) -> OpenAICompatibleProvider:
    return OpenAICompatibleProvider(
        base_url=url,
        model_id="pinned-model-2024-08-06",
        api_key="sk-test",
        timeout_s=kwargs.pop("timeout_s", 5),
        backoff_s=0.01,
        **kwargs,
    )


def test_streams_tokens_and_reports_usage() -> None:
    with FakeOpenAIServer(text="The answer is 42 [1].") as server:
        stats = StreamStats()
        pieces = list(_provider(server.url).stream(REQUEST, stats))
    assert "".join(pieces) == "The answer is 42 [1]." and len(pieces) == 5
    assert stats.tokens_in == 42 and stats.tokens_out == 5
    sent = server.requests[0]
    assert sent["body"]["model"] == "pinned-model-2024-08-06" and sent["body"]["stream"] is True
    assert sent["auth"] == "Bearer sk-test" and sent["body"]["messages"] == REQUEST.messages


@pytest.mark.parametrize("status", ["500", "429"])
def test_retries_on_429_and_5xx(status: str) -> None:
    with FakeOpenAIServer(text="ok then", script=[status, status]) as server:
        assert "".join(_provider(server.url).stream(REQUEST, StreamStats())) == "ok then"
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("script", "message", "kwargs"),
    [
        (["401"], "refused the API key", {}),
        (["500", "500", "500"], "HTTP 500", {}),
        (["slow"], "timed out", {"timeout_s": 0.5}),
        (["malformed"], "malformed stream", {}),
        (["truncated"], "ended before the answer was complete", {}),
    ],
)
def test_failures_raise_llm_error(script: list[str], message: str, kwargs: dict) -> None:
    with FakeOpenAIServer(script=script) as server, pytest.raises(LLMError, match=message):
        list(_provider(server.url, **kwargs).stream(REQUEST, StreamStats()))


def test_unreachable_endpoint() -> None:
    with pytest.raises(LLMError, match="cannot reach"):
        list(_provider("http://127.0.0.1:9/v1", max_retries=0).stream(REQUEST, StreamStats()))


def test_llama_cpp_without_its_package_fails_clearly() -> None:
    pytest.importorskip("pytest")  # always present; the check below is the real condition
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        from providers.llm.llama_cpp import LlamaCppProvider

        with pytest.raises(LLMError, match="llama-cpp-python"):
            list(LlamaCppProvider(model_path="/nonexistent/model.gguf").stream(REQUEST, StreamStats()))
    else:
        pytest.skip("llama-cpp-python is installed; this test covers its absence (the default install)")
