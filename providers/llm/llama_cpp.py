"""Optional: a local GGUF model through llama-cpp-python (``pip install llama-cpp-python``).
Nothing leaves the machine. Without the package the provider fails with a clear reason and
the gateway falls back."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from providers.llm.base import LLMError, LLMProvider, LLMRequest, StreamStats, approx_tokens

_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}


class LlamaCppProvider(LLMProvider):
    name = "llama_cpp"
    external = False

    def __init__(self, *, model_path: str, context_tokens: int = 4096) -> None:
        self.model_path = model_path
        self.model_id = f"gguf:{model_path.rsplit('/', 1)[-1]}"
        self.context_tokens = context_tokens

    def _model(self) -> Any:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LLMError("llama_cpp needs the llama-cpp-python package (pip install llama-cpp-python)") from exc
        with _LOCK:
            if self.model_path not in _MODELS:
                _MODELS[self.model_path] = Llama(model_path=self.model_path, n_ctx=self.context_tokens, verbose=False)
            return _MODELS[self.model_path]

    def _stream(self, request: LLMRequest, stats: StreamStats) -> Iterator[str]:
        model = self._model()
        produced: list[str] = []
        for event in model.create_chat_completion(
            messages=request.messages,
            stream=True,
            max_tokens=request.max_output_tokens,
            temperature=request.temperature,
        ):
            piece = event["choices"][0]["delta"].get("content")
            if piece:
                produced.append(piece)
                yield piece
        stats.tokens_in = sum(approx_tokens(m["content"]) for m in request.messages)
        stats.tokens_out = approx_tokens("".join(produced))
