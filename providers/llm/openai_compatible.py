"""Any OpenAI-compatible chat endpoint (OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp's server,
LM Studio): streaming, timeouts, retries with backoff on 429 and 5xx before the first token."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx

from providers.llm.base import LLMError, LLMProvider, LLMRequest, StreamStats, approx_tokens

RETRY_STATUSES = {429, 500, 502, 503, 504}


class OpenAICompatibleProvider(LLMProvider):
    name = "openai_compatible"
    external = True

    def __init__(
        self,
        *,
        base_url: str,
        model_id: str,
        api_key: str = "",
        timeout_s: float = 30.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        external: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model_id = model_id
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.external = external

    def _stream(self, request: LLMRequest, stats: StreamStats) -> Iterator[str]:
        body = {
            "model": self.model_id,
            "messages": request.messages,
            "stream": True,
            "temperature": request.temperature,
            "max_tokens": request.max_output_tokens,
            "stream_options": {"include_usage": True},
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        timeout = httpx.Timeout(self.timeout_s, connect=min(5.0, self.timeout_s))
        attempt = 0
        while True:
            try:
                with (
                    httpx.Client(timeout=timeout) as client,
                    client.stream("POST", f"{self.base_url}/chat/completions", json=body, headers=headers) as response,
                ):
                    if response.status_code in RETRY_STATUSES and attempt < self.max_retries:
                        attempt += 1
                        time.sleep(self.backoff_s * 2 ** (attempt - 1))
                        continue
                    if response.status_code == 401:
                        raise LLMError("the endpoint refused the API key (401)")
                    if response.status_code >= 400:
                        raise LLMError(f"the endpoint answered HTTP {response.status_code}")
                    yield from self._read_events(response, stats, request)
                    return
            except httpx.TimeoutException as exc:
                raise LLMError(f"the endpoint timed out after {self.timeout_s:.0f} s") from exc
            except httpx.HTTPError as exc:
                if attempt < self.max_retries:
                    attempt += 1
                    time.sleep(self.backoff_s * 2 ** (attempt - 1))
                    continue
                raise LLMError(f"cannot reach the endpoint: {type(exc).__name__}") from exc

    def _read_events(self, response: httpx.Response, stats: StreamStats, request: LLMRequest) -> Iterator[str]:
        produced: list[str] = []
        finished = False
        for line in response.iter_lines():
            if not line or not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                finished = True
                break
            try:
                event = json.loads(data)
            except json.JSONDecodeError as exc:
                raise LLMError("the endpoint sent a malformed stream") from exc
            usage = event.get("usage") or {}
            if usage:
                stats.tokens_in = int(usage.get("prompt_tokens") or 0)
                stats.tokens_out = int(usage.get("completion_tokens") or 0)
            for choice in event.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    produced.append(piece)
                    yield piece
                if choice.get("finish_reason"):
                    finished = True
        if not finished:
            raise LLMError("the stream ended before the answer was complete")
        if not stats.tokens_in:
            stats.tokens_in = sum(approx_tokens(m["content"]) for m in request.messages)
        if not stats.tokens_out:
            stats.tokens_out = approx_tokens("".join(produced))
