"""The embedding boundary: a template method that batches and normalises, with the model call
left to subclasses."""

from __future__ import annotations

import abc
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np


class EmbeddingProvider(abc.ABC):
    name: str = "abstract"
    dimensions: int = 0
    batch_size: int = 32

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts in batches; vectors are L2-normalised so cosine distance is meaningful."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            if not batch:
                continue
            raw = np.asarray(self._embed(batch), dtype=np.float32)
            norms = np.linalg.norm(raw, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            vectors.extend((raw / norms).tolist())
        return vectors

    query_cache_size: int = 2048

    def embed_query(self, text: str) -> list[float]:
        """One query's vector; the same text asked again (a retry, a popular question) is
        served from a small per-process LRU instead of running the model again."""
        cache: OrderedDict[str, list[float]] = self.__dict__.setdefault("_query_cache", OrderedDict())
        lock: threading.Lock = self.__dict__.setdefault("_query_lock", threading.Lock())
        with lock:
            vector = cache.get(text)
            if vector is not None:
                cache.move_to_end(text)
                return list(vector)
        vector = self.embed_texts([text])[0]
        with lock:
            cache[text] = vector
            if len(cache) > self.query_cache_size:
                cache.popitem(last=False)
        return list(vector)

    @abc.abstractmethod
    def _embed(self, texts: list[str]) -> Sequence[Sequence[float]]:
        """Return one vector per text, in order."""
