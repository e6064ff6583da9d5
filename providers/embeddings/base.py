"""The embedding boundary: a template method that batches and normalises, with the model call
left to subclasses."""

from __future__ import annotations

import abc
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

    def embed_query(self, text: str) -> list[float]:
        return self.embed_texts([text])[0]

    @abc.abstractmethod
    def _embed(self, texts: list[str]) -> Sequence[Sequence[float]]:
        """Return one vector per text, in order."""
