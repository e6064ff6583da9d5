"""Chunking along the document's structure: sections stay apart, chunks end at sentence
boundaries where possible, consecutive chunks of a section overlap by a sentence or two."""

from __future__ import annotations

from dataclasses import dataclass

from core.text import DOCUMENT_SENTENCE_END
from ingestion.parsers import ParsedDocument

# all-MiniLM-L6-v2 reads at most 256 word pieces; ~900 characters of English prose is about
# 200 of them, leaving room for the title and heading path prefixed to the embedded text.
TARGET_CHARS = 900
MAX_CHARS = 1200
OVERLAP_CHARS = 150
# Sections shorter than this are merged with their neighbours (same page) to avoid
# fragments such as one-line API entries standing alone.
MIN_SECTION_CHARS = 250


@dataclass(frozen=True)
class ChunkDraft:
    ordinal: int
    text: str
    heading_path: tuple[str, ...]
    page: int | None
    char_start: int
    char_end: int

    def embedding_text(self, title: str) -> str:
        """What is embedded: the chunk with its title and headings, so that a passage about
        'maxsize' in the lru_cache entry is found by a question about lru_cache."""
        path = " > ".join(h for h in self.heading_path if h != title)
        header = f"{title}: {path}" if path else title
        return f"{header}\n{self.text}"


def split_sentences(text: str) -> list[str]:
    parts: list[str] = []
    for piece in DOCUMENT_SENTENCE_END.split(text):
        piece = piece.strip()
        if not piece:
            continue
        while len(piece) > MAX_CHARS:
            # An over-long "sentence" (code, tables): cut at the last whitespace before the limit.
            cut = piece.rfind(" ", 0, MAX_CHARS)
            cut = cut if cut > MAX_CHARS // 2 else MAX_CHARS
            parts.append(piece[:cut].strip())
            piece = piece[cut:].strip()
        if piece:
            parts.append(piece)
    return parts


def _merge_small_sections(parsed: ParsedDocument) -> list[tuple[tuple[str, ...], int | None, str]]:
    """Join small neighbouring sections that are siblings (same parent heading, same page), such
    as one-line API entries; a section never merges into its parent or a cousin, so headings
    keep pointing at the right text."""
    merged: list[tuple[tuple[str, ...], int | None, str]] = []
    for section in parsed.sections:
        if merged:
            path, page, text = merged[-1]
            siblings = len(path) == len(section.heading_path) and path[:-1] == section.heading_path[:-1]
            small = len(text) < MIN_SECTION_CHARS or len(section.text) < MIN_SECTION_CHARS
            if siblings and small and page == section.page and len(text) + len(section.text) <= TARGET_CHARS:
                heading = section.heading_path[-1] if section.heading_path else ""
                merged[-1] = (
                    path,
                    page,
                    f"{text}\n\n{heading}\n\n{section.text}" if heading else f"{text}\n\n{section.text}",
                )
                continue
        merged.append((section.heading_path, section.page, section.text))
    return merged


def chunk_document(parsed: ParsedDocument) -> list[ChunkDraft]:
    """Split a parsed document into chunk drafts, in reading order, numbered from 0."""
    drafts: list[ChunkDraft] = []
    offset = 0
    for path, page, text in _merge_small_sections(parsed):
        sentences = split_sentences(text)
        current: list[str] = []
        size = 0
        for sentence in sentences:
            if current and size + len(sentence) + 1 > TARGET_CHARS:
                body = " ".join(current)
                drafts.append(ChunkDraft(len(drafts), body, path, page, offset, offset + len(body)))
                offset += len(body)
                # Overlap: carry the last sentences (up to OVERLAP_CHARS) into the next chunk.
                carried: list[str] = []
                carried_size = 0
                for previous in reversed(current):
                    if carried_size + len(previous) > OVERLAP_CHARS:
                        break
                    carried.insert(0, previous)
                    carried_size += len(previous) + 1
                current, size = carried, carried_size
            current.append(sentence)
            size += len(sentence) + 1
        if current:
            body = " ".join(current)
            drafts.append(ChunkDraft(len(drafts), body, path, page, offset, offset + len(body)))
            offset += len(body)
    return drafts
