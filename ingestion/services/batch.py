"""Ingesting many files at once (the ``ingest`` command): walk paths, upload each file, and
report progress until every document is ready or failed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.models import User
from django.utils.text import slugify

from core.errors import ApplicationError
from ingestion.models import Collection, Document, DocumentStatus
from ingestion.parsers import PARSERS
from ingestion.services.documents import collection_ensure, document_create_from_bytes


@dataclass
class BatchReport:
    queued: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


def files_under(paths: list[Path], pattern: str = "*") -> Iterator[Path]:
    """Files named and files under folders named (recursively, matching ``pattern``), in a
    stable order. Files of an unsupported type inside folders are skipped silently; named ones
    are reported."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob(pattern)):
                if child.is_file() and child.suffix.lower() in PARSERS:
                    yield child
        else:
            yield path


def batch_ingest(
    *,
    paths: list[Path],
    collection_name: str,
    uploaded_by: User | None = None,
    root: Path | None = None,
    pattern: str = "*",
    on_file: Callable[[Path, str], None] | None = None,
) -> BatchReport:
    collection = Collection.objects.filter(name=collection_name).first() or collection_ensure(
        name=collection_name, slug=slugify(collection_name)[:200] or "collection"
    )
    report = BatchReport()
    for path in files_under(paths, pattern):
        base = root or (path.parent if not any(p.is_dir() for p in paths) else _common_root(paths))
        try:
            source_name = str(path.relative_to(base))
        except ValueError:
            source_name = path.name
        try:
            data = path.read_bytes()
        except OSError as exc:
            report.refused.append((str(path), f"cannot read: {exc.strerror}"))
            if on_file:
                on_file(path, "refused")
            continue
        try:
            result = document_create_from_bytes(
                collection=collection, data=data, source_name=source_name, uploaded_by=uploaded_by
            )
        except ApplicationError as exc:
            report.refused.append((str(path), exc.message))
            if on_file:
                on_file(path, "refused")
            continue
        (report.queued if result.created else report.duplicates).append(result.document.pk)
        if on_file:
            on_file(path, "queued" if result.created else "duplicate")
    return report


def _common_root(paths: list[Path]) -> Path:
    dirs = [p if p.is_dir() else p.parent for p in paths]
    common = dirs[0].resolve()
    for d in dirs[1:]:
        while not str(d.resolve()).startswith(str(common)):
            common = common.parent
    return common


def batch_wait(
    *, document_ids: list[int], timeout: float, on_progress: Callable[[dict[str, int]], None] | None = None
) -> dict[str, int]:
    """Poll until every document is ready or failed (or the timeout passes); return counts."""
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while True:
        counts = {}
        for status in Document.objects.filter(pk__in=document_ids).values_list("status", flat=True):
            counts[status] = counts.get(status, 0) + 1
        if on_progress:
            on_progress(counts)
        done = counts.get(DocumentStatus.READY, 0) + counts.get(DocumentStatus.FAILED, 0)
        if done >= len(document_ids) or time.monotonic() > deadline:
            return counts
        time.sleep(1.0)
