"""Data classes: one policy object per class of data decides what every part of Verity may do
with a collection's text (issue #14, point 1).

A collection is ``public``, ``internal``, ``confidential`` or ``restricted``. An answer, its model
calls and its logs take the *strictest* class of the collections its evidence came from. The
class decides, in :class:`DataClassPolicy`:

- which model tiers may see the text (restricted: on-machine tiers only; this covers every model
  call: the answering model, the judge verifier and any other);
- whether personal data is scrubbed (``core.pii``) before a model call that leaves the machine;
- whether prompt and response text are logged in clear in ``Interaction`` (otherwise with the
  same placeholders the scrubber writes: what was said, without whom it was about);
- how long each kind of record is kept (``RetentionKind``; None: until deleted by hand).

The defaults are below; an installation overrides any of them with the ``VERITY_DATA_CLASSES``
setting (``{"confidential": {"retention": {"interaction_texts": 14}}}``). This module is the
bottom layer: it reads Django settings and imports no app.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from django.conf import settings


class DataClass(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


# From the least to the most strict: the strictest of several classes governs their mix.
DATA_CLASS_ORDER: tuple[DataClass, ...] = (
    DataClass.PUBLIC,
    DataClass.INTERNAL,
    DataClass.CONFIDENTIAL,
    DataClass.RESTRICTED,
)


class RetentionKind(StrEnum):
    """A kind of record with its own retention period."""

    CONVERSATIONS = "conversations"  # conversations with their answers, citations and reviews' links
    INTERACTION_TEXTS = "interaction_texts"  # the prompt and response text of model calls (metrics stay)
    CACHE_LOOKUPS = "cache_lookups"
    FEEDBACK = "feedback"
    ORIGINAL_FILES = "original_files"  # the uploaded file (its chunks stay searchable)
    AUDIT_EVENTS = "audit_events"  # one period for the whole trail (see RETENTION_AUDIT_DAYS)


@dataclass(frozen=True)
class DataClassPolicy:
    data_class: DataClass
    external_models: bool  # may a tier whose endpoint leaves this machine see the text?
    scrub_pii_external: bool  # personal data replaced by placeholders before an external call
    log_text_clear: bool  # Interaction keeps prompt and response as sent (else: scrubbed)
    retention_days: Mapping[RetentionKind, int | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "retention_days", MappingProxyType(dict(self.retention_days)))

    @property
    def restricted(self) -> bool:
        """Text of this class never leaves the machine (the router's and the judge's rule)."""
        return not self.external_models

    def scrubs_for(self, *, external: bool) -> bool:
        """Whether text of this class is scrubbed before a call to an endpoint (external or not)."""
        return external and self.scrub_pii_external

    def retention(self, kind: RetentionKind) -> int | None:
        return self.retention_days.get(kind)


def _days(conversations: int, interactions: int, lookups: int, feedback: int) -> dict[RetentionKind, int | None]:
    return {
        RetentionKind.CONVERSATIONS: conversations,
        RetentionKind.INTERACTION_TEXTS: interactions,
        RetentionKind.CACHE_LOOKUPS: lookups,
        RetentionKind.FEEDBACK: feedback,
        RetentionKind.ORIGINAL_FILES: None,
    }


_DEFAULTS: Mapping[DataClass, DataClassPolicy] = MappingProxyType(
    {
        DataClass.PUBLIC: DataClassPolicy(
            DataClass.PUBLIC, external_models=True, scrub_pii_external=True, log_text_clear=True,
            retention_days=_days(365, 90, 90, 365),
        ),
        DataClass.INTERNAL: DataClassPolicy(
            DataClass.INTERNAL, external_models=True, scrub_pii_external=True, log_text_clear=True,
            retention_days=_days(365, 90, 90, 365),
        ),
        DataClass.CONFIDENTIAL: DataClassPolicy(
            DataClass.CONFIDENTIAL, external_models=True, scrub_pii_external=True, log_text_clear=False,
            retention_days=_days(180, 30, 30, 180),
        ),
        DataClass.RESTRICTED: DataClassPolicy(
            DataClass.RESTRICTED, external_models=False, scrub_pii_external=True, log_text_clear=False,
            retention_days=_days(90, 30, 30, 90),
        ),
    }
)  # fmt: skip


def data_class_policy(data_class: DataClass | str) -> DataClassPolicy:
    """The policy of a class: the defaults above with the installation's ``VERITY_DATA_CLASSES``
    overrides. An unknown class name is a ValueError (a configuration or data error)."""
    kind = DataClass(data_class)
    policy = _DEFAULTS[kind]
    override: Mapping[str, Any] = (getattr(settings, "VERITY_DATA_CLASSES", None) or {}).get(kind.value) or {}
    if not override:
        return policy
    unknown = set(override) - {"external_models", "scrub_pii_external", "log_text_clear", "retention"}
    if unknown:
        raise ValueError(f"VERITY_DATA_CLASSES[{kind.value!r}]: unknown keys {sorted(unknown)}")
    retention = dict(policy.retention_days)
    for name, days in (override.get("retention") or {}).items():
        retention[RetentionKind(name)] = None if days is None else int(days)
    return replace(
        policy,
        retention_days=retention,
        external_models=bool(override.get("external_models", policy.external_models)),
        scrub_pii_external=bool(override.get("scrub_pii_external", policy.scrub_pii_external)),
        log_text_clear=bool(override.get("log_text_clear", policy.log_text_clear)),
    )


def data_class_strictest(classes: Iterable[DataClass | str], *, default: DataClass = DataClass.INTERNAL) -> DataClass:
    """The strictest of these classes (``default`` when there are none)."""
    ranks = [DATA_CLASS_ORDER.index(DataClass(c)) for c in classes]
    return DATA_CLASS_ORDER[max(ranks)] if ranks else default


def data_classes_all() -> list[DataClassPolicy]:
    """Every class's policy, least strict first (the README's table, the ops page)."""
    return [data_class_policy(c) for c in DATA_CLASS_ORDER]


def retention_audit_days() -> int | None:
    """How long audit events are kept (one period for the whole trail; None: forever)."""
    return getattr(settings, "RETENTION_AUDIT_DAYS", 730)
