"""Frozen dataclasses other apps receive from ingestion."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetrievedChunk:
    chunk_id: int
    document_id: int
    collection_id: int
    title: str
    source_name: str
    heading_path: tuple[str, ...]
    page: int | None
    text: str
    score: float
    vector_rank: int | None
    vector_distance: float | None
    text_rank: int | None
    text_score: float | None

    @property
    def section(self) -> str:
        return " > ".join(h for h in self.heading_path if h != self.title)
