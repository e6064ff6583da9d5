"""The registry: the library's files loaded as immutable versions, labels moved (deployment)
and moved back (rollback), versions created from approved proposals, and the version a label
points at, for the answer pipeline.

Reading a label is one indexed query; the pipeline reads every production label at once, once
per answer (``prompts_current``), so a label move takes effect with the next question in every
process, with nothing to invalidate."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from core.errors import ApplicationError
from core.models import AuditAction
from core.services.audit import Actor, AuditRequest, actor_identity, audit_record
from prompts.contracts import (
    PromptMessage,
    PromptTemplate,
    Role,
    TemplateError,
    key_of,
    key_parse,
    placeholders,
)
from prompts.models import (
    EventAction,
    PromptEvent,
    PromptKind,
    PromptLabel,
    PromptVersion,
    VersionSource,
)

logger = logging.getLogger(__name__)

LIBRARY_DIR = Path(__file__).resolve().parents[1] / "library"
PRODUCTION = PromptLabel.PRODUCTION
# A label name is a word an operator types (production, staging, canary-2026-12).
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
# A template longer than this is a mistake (a paste of a whole document), not a prompt.
MAX_TEMPLATE_CHARS = 20_000


class LibraryError(Exception):
    """The library's files are inconsistent, or a released version's file was edited."""


@dataclass(frozen=True)
class LibraryPrompt:
    prompt_id: str
    kind: PromptKind
    description: str
    variables: dict[str, str]
    production: int
    versions: tuple[PromptTemplate, ...]
    notes: dict[int, str] = field(default_factory=dict)
    directory: Path | None = None

    def version(self, number: int) -> PromptTemplate:
        for template in self.versions:
            if template.version == number:
                return template
        raise LibraryError(f"{self.prompt_id} has no version {number}")


def content_hash(*, kind: str, messages: list[dict[str, str]], variables: list[str], fallback_key: str) -> str:
    canonical = json.dumps(
        {"kind": kind, "messages": messages, "variables": sorted(variables), "fallback": fallback_key},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )  # fmt: skip
    return hashlib.sha256(canonical.encode()).hexdigest()


def template_problems(*, kind: str, messages: list[dict[str, str]], variables: list[str]) -> list[str]:
    """What is wrong with a version's messages: an unknown or malformed placeholder, a chat role
    that is not one, an empty or huge template, a variable no template uses."""
    problems: list[str] = []
    if not messages:
        return ["a prompt needs at least one message"]
    used: set[str] = set()
    for message in messages:
        role, template = message.get("role", ""), message.get("template", "")
        where = f"{role or '?'}"
        if kind == PromptKind.CHAT and role not in {r.value for r in Role}:
            problems.append(f"{where}: the role must be one of {', '.join(r.value for r in Role)}")
        if not template.strip():
            problems.append(f"{where}: the template is empty")
            continue
        if len(template) > MAX_TEMPLATE_CHARS:
            problems.append(f"{where}: the template is longer than {MAX_TEMPLATE_CHARS} characters")
        try:
            names = placeholders(template)
        except TemplateError as exc:
            problems.append(f"{where}: {exc}")
            continue
        unknown = [n for n in names if n not in variables]
        if unknown:
            problems.append(
                f"{where}: unknown variable {', '.join('${' + n + '}' for n in unknown)} "
                f"(this prompt has {', '.join('${' + v + '}' for v in variables) or 'none'})"
            )
        used.update(names)
    if kind == PromptKind.CHAT:
        missing = [v for v in variables if v not in used]
        if missing:
            # A chat prompt that drops ${passages} or ${question} answers a different question.
            problems.append(f"the variable {', '.join('${' + v + '}' for v in missing)} is used by no message")
    return problems


def _entries(kind: str, messages: list[dict[str, str]]) -> tuple[PromptMessage, ...]:
    return tuple(PromptMessage(role=m["role"], template=m["template"]) for m in messages)


def _read_prompt(directory: Path) -> LibraryPrompt:
    meta = tomllib.loads((directory / "prompt.toml").read_text(encoding="utf-8"))
    prompt_id = meta["id"]
    if prompt_id != directory.name:
        raise LibraryError(f"{directory}/prompt.toml: id {prompt_id!r} differs from its folder's name")
    kind = PromptKind(meta["kind"])
    variables: dict[str, str] = dict(meta.get("variables", {}))
    versions: list[PromptTemplate] = []
    notes: dict[int, str] = {}
    for path in sorted(directory.glob("v*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        number = int(data["version"])
        if path.stem != f"v{number}":
            raise LibraryError(f"{path}: version {number} in a file named {path.name}")
        messages = [{"role": m["role"], "template": m["template"]} for m in data["messages"]]
        problems = template_problems(kind=kind, messages=messages, variables=list(variables))
        if problems:
            raise LibraryError(f"{path}: " + "; ".join(problems))
        fallback = data.get("fallback", "")
        versions.append(
            PromptTemplate(
                prompt_id=prompt_id, version=number, messages=_entries(kind, messages), variables=tuple(variables),
                fallback_key=fallback,
                content_hash=content_hash(kind=kind, messages=messages, variables=list(variables), fallback_key=fallback),
            )
        )  # fmt: skip
        notes[number] = data.get("note", "")
    if not versions:
        raise LibraryError(f"{directory}: no version file (v1.toml, ...)")
    prompt = LibraryPrompt(
        prompt_id=prompt_id, kind=kind, description=meta.get("description", ""), variables=variables,
        production=int(meta["production"]), versions=tuple(sorted(versions, key=lambda t: t.version)), notes=notes,
        directory=directory,
    )  # fmt: skip
    prompt.version(prompt.production)  # the production version must exist
    return prompt


def library_read(*, directory: Path = LIBRARY_DIR) -> dict[str, LibraryPrompt]:
    """Every prompt of the library, validated (templates, versions, fallbacks)."""
    prompts = {
        p.prompt_id: p for p in (_read_prompt(d) for d in sorted(directory.iterdir()) if (d / "prompt.toml").is_file())
    }
    for prompt in prompts.values():
        for template in prompt.versions:
            if template.fallback_key:
                fallback_id, number = key_parse(template.fallback_key)
                if fallback_id not in prompts:
                    raise LibraryError(f"{template.key}: fallback {template.fallback_key} is not in the library")
                prompts[fallback_id].version(number)
    return prompts


@functools.cache
def library_default() -> dict[str, LibraryPrompt]:
    """The repository's library, read once per process."""
    return library_read()


def library_production(prompt_id: str) -> PromptTemplate:
    """The version the library's files label production (no database: tools and tests)."""
    prompt = library_default()[prompt_id]
    return prompt.version(prompt.production)


def _template_of(row: PromptVersion) -> PromptTemplate:
    return PromptTemplate(
        prompt_id=row.prompt_id, version=row.version, messages=_entries(row.kind, row.messages),
        variables=tuple(row.variables), fallback_key=row.fallback_key, content_hash=row.content_hash,
    )  # fmt: skip


@dataclass(frozen=True)
class SyncReport:
    loaded: list[str]
    labelled: list[str]


@transaction.atomic
def library_sync(*, directory: Path = LIBRARY_DIR) -> SyncReport:
    """Load the library's versions that the registry lacks (each an audited event), and label
    ``production`` the prompts that have no production label yet. Raises LibraryError when a
    released version's file no longer matches what was loaded: a released version never
    changes, a change is a new version."""
    library = library_read(directory=directory)
    existing = {(v.prompt_id, v.version): v for v in PromptVersion.objects.filter(prompt_id__in=list(library))}
    loaded: list[str] = []
    labelled: list[str] = []
    for prompt in library.values():
        for template in prompt.versions:
            row = existing.get((prompt.prompt_id, template.version))
            if row is not None:
                if row.content_hash != template.content_hash and row.source == VersionSource.PROPOSAL:
                    raise LibraryError(
                        f"{template.key} is taken by a version approved in the browser ({row.author_name or 'an editor'}"
                        f", {row.created_at:%Y-%m-%d}). Put it in the repository with `manage.py prompt_export "
                        f"{prompt.prompt_id} {template.version}` and number your file "
                        f"v{_next_version(prompt.prompt_id)}.toml."
                    )
                if row.content_hash != template.content_hash:
                    raise LibraryError(
                        f"{template.key} changed since it was loaded (hash {row.content_hash[:12]} in the registry, "
                        f"{template.content_hash[:12]} in {prompt.directory}/v{template.version}.toml). Released "
                        f"versions are immutable: restore the file and add v{_next_version(prompt.prompt_id)}.toml."
                    )
                continue
            PromptVersion.objects.create(
                prompt_id=prompt.prompt_id, version=template.version, kind=prompt.kind,
                description=prompt.description,
                messages=[{"role": m.role, "template": m.template} for m in template.messages],
                variables=list(prompt.variables), fallback_key=template.fallback_key,
                content_hash=template.content_hash, source=VersionSource.FILE,
                note=prompt.notes.get(template.version, ""),
            )  # fmt: skip
            PromptEvent.objects.create(
                action=EventAction.VERSION_LOADED, prompt_id=prompt.prompt_id, version=template.version,
                actor_name="migrate", detail={"hash": template.content_hash},
            )  # fmt: skip
            loaded.append(template.key)
        if not PromptLabel.objects.filter(prompt_id=prompt.prompt_id, name=PRODUCTION).exists():
            version = PromptVersion.objects.get(prompt_id=prompt.prompt_id, version=prompt.production)
            PromptLabel.objects.create(prompt_id=prompt.prompt_id, name=PRODUCTION, version=version)
            PromptEvent.objects.create(
                action=EventAction.LABEL_MOVED, prompt_id=prompt.prompt_id, version=prompt.production,
                label=PRODUCTION, actor_name="migrate", note="first installation",
            )  # fmt: skip
            labelled.append(key_of(prompt.prompt_id, prompt.production))
    return SyncReport(loaded=loaded, labelled=labelled)


def _next_version(prompt_id: str) -> int:
    latest = PromptVersion.objects.filter(prompt_id=prompt_id).order_by("-version").values_list("version", flat=True)
    library = library_default().get(prompt_id)
    in_files = max((t.version for t in library.versions), default=0) if library else 0
    return max(latest.first() or 0, in_files) + 1


def prompts_current(*, label: str = PRODUCTION) -> dict[str, PromptTemplate]:
    """Every prompt's version under ``label``, and under ``production`` for the prompts that
    label does not name (one query). A prompt the registry lacks (a database not migrated since
    the file was added) comes from the library's files."""
    # Production first, then the label's own versions over it.
    labels = sorted(
        PromptLabel.objects.filter(name__in={label, PRODUCTION}).select_related("version"),
        key=lambda row: row.name == label,
    )
    current = {row.prompt_id: _template_of(row.version) for row in labels}
    for prompt_id, prompt in library_default().items():
        if prompt_id not in current:
            logger.warning("prompts.label_missing prompt=%s label=%s; using the library's file", prompt_id, label)
            current[prompt_id] = prompt.version(prompt.production)
    return current


def prompt_current(*, prompt_id: str, label: str = PRODUCTION) -> PromptTemplate:
    current = prompts_current(label=label)
    if prompt_id not in current:
        raise ApplicationError(f"The prompt {prompt_id!r} has no {label!r} label.")
    return current[prompt_id]


def prompts_by_keys(*, keys: Iterable[str]) -> dict[str, PromptTemplate]:
    """Versions by their keys (``answer-v2``), in one query, from the registry or, failing that,
    the files; ApplicationError for a key that is in neither."""
    wanted = {key: key_parse(key) for key in keys}
    if not wanted:
        return {}
    match = Q()
    for prompt_id, number in wanted.values():
        match |= Q(prompt_id=prompt_id, version=number)
    found = {row.key: _template_of(row) for row in PromptVersion.objects.filter(match)}
    for key, (prompt_id, number) in wanted.items():
        if key not in found:
            library = library_default().get(prompt_id)
            if library is None:
                raise ApplicationError(f"There is no prompt version {key}.")
            found[key] = library.version(number)
    return found


def prompt_by_key(*, key: str) -> PromptTemplate:
    """A version by its key (``answer-v2``), from the registry or, failing that, the files."""
    return prompts_by_keys(keys=[key])[key]


def _label_name_clean(label: str) -> str:
    name = label.strip().lower()
    if not name or len(name) > 40 or not set(name) <= _LABEL_CHARS:
        raise ApplicationError("A label is 1-40 lower-case letters, digits, '-' or '_'.")
    return name


@transaction.atomic
def label_move(
    *, prompt_id: str, label: str, version: int, actor: Actor, note: str = "", request: AuditRequest | None = None
) -> PromptLabel:
    """Point ``label`` at a version: for ``production`` this is the deployment. Audited."""
    name = _label_name_clean(label)
    target = PromptVersion.objects.filter(prompt_id=prompt_id, version=version).first()
    if target is None:
        raise ApplicationError(f"There is no version {version} of the prompt {prompt_id!r}.")
    row, before = _label_locked(prompt_id=prompt_id, name=name, target=target)
    if before is not None:
        if before == version:
            # A second "deploy" of what is live would be an event from vN to vN, and a rollback
            # would then return to vN: nothing to move, nothing to record.
            raise ApplicationError(f"The label {name!r} of {prompt_id!r} already points at version {version}.")
        row.version = target
        row.save(update_fields=["version", "updated_at"])
    actor_id, actor_name = actor_identity(actor)
    PromptEvent.objects.create(
        action=EventAction.LABEL_MOVED, prompt_id=prompt_id, version=version, label=name, from_version=before,
        actor_id=actor_id, actor_name=actor_name, note=note[:2000],
    )  # fmt: skip
    audit_record(
        action=AuditAction.PROMPT_LABEL_MOVED, actor=actor, target_type="prompt_label", target_id=f"{prompt_id}:{name}",
        before={"version": before}, after={"version": version}, detail={"note": note[:2000]}, request=request,
    )  # fmt: skip
    logger.info("prompts.label_moved prompt=%s label=%s from=%s to=%s by=%s", prompt_id, name, before, version,
                actor_name)  # fmt: skip
    return row


def _label_locked(*, prompt_id: str, name: str, target: PromptVersion) -> tuple[PromptLabel, int | None]:
    """The label's row, locked, and the version it points at; a label that did not exist is
    created pointing at ``target`` (None: nothing was before it)."""
    row = PromptLabel.objects.select_for_update().filter(prompt_id=prompt_id, name=name).first()
    if row is not None:
        return row, row.version.version
    try:
        with transaction.atomic():
            return PromptLabel.objects.create(prompt_id=prompt_id, name=name, version=target), None
    except IntegrityError:  # a concurrent first move created it: this move comes after that one
        row = PromptLabel.objects.select_for_update().get(prompt_id=prompt_id, name=name)
        return row, row.version.version


def label_history(*, prompt_id: str, label: str = PRODUCTION) -> list[PromptEvent]:
    return list(PromptEvent.objects.filter(action=EventAction.LABEL_MOVED, prompt_id=prompt_id, label=label))


@transaction.atomic
def label_rollback(
    *, prompt_id: str, label: str = PRODUCTION, actor: Actor, note: str = "", request: AuditRequest | None = None
) -> PromptLabel:
    """Move ``label`` back to the version it pointed at before its last move. Audited (a
    rollback is a move; rolling back twice returns to where it started)."""
    label = _label_name_clean(label)
    moves = [
        e for e in label_history(prompt_id=prompt_id, label=label)
        if e.from_version is not None and e.from_version != e.version
    ]  # fmt: skip
    current = PromptLabel.objects.filter(prompt_id=prompt_id, name=label).select_related("version").first()
    if current is None or not moves:
        raise ApplicationError(f"The label {label!r} of {prompt_id!r} has no earlier version to return to.")
    last = moves[0]
    return label_move(
        prompt_id=prompt_id, label=label, version=last.from_version or current.version.version, actor=actor,
        note=note or f"rollback from v{current.version.version}", request=request,
    )  # fmt: skip


@transaction.atomic
def version_create(
    *, prompt_id: str, messages: list[dict[str, str]], actor: Actor, note: str = "", fallback_key: str | None = None,
    detail: dict[str, Any] | None = None, base_version: int | None = None,
) -> PromptVersion:  # fmt: skip
    """A new immutable version of a prompt (from an approved proposal): the next number, the
    same variables and, unless given, the same fallback as the version it was written on
    (``base_version``; default: the production version)."""
    versions = PromptVersion.objects.filter(prompt_id=prompt_id)
    base = (
        versions.filter(version=base_version).first()
        if base_version is not None
        else versions.filter(labels__name=PRODUCTION).first() or versions.order_by("-version").first()
    )
    if base is None:
        raise ApplicationError(f"There is no prompt {prompt_id!r}" + (f" v{base_version}." if base_version else "."))
    # Lock the prompt's rows so two approvals cannot take the same number.
    list(PromptVersion.objects.select_for_update().filter(prompt_id=prompt_id).values_list("pk", flat=True))
    problems = template_problems(kind=base.kind, messages=messages, variables=list(base.variables))
    entries, expected = [m["role"] for m in messages], [m["role"] for m in base.messages]
    if base.kind == PromptKind.TEXT and sorted(entries) != sorted(expected):
        # The code asks for each entry by name: one missing would fail at the worst moment.
        problems.append(f"the entries must be exactly: {', '.join(expected)}")
    if problems:
        raise ApplicationError("The prompt cannot be used: " + "; ".join(problems))
    fallback = base.fallback_key if fallback_key is None else fallback_key
    number = _next_version(prompt_id)
    actor_id, actor_name = actor_identity(actor)
    row = PromptVersion.objects.create(
        prompt_id=prompt_id, version=number, kind=base.kind, description=base.description,
        messages=[{"role": m["role"], "template": m["template"]} for m in messages], variables=list(base.variables),
        fallback_key=fallback,
        content_hash=content_hash(kind=base.kind, messages=messages, variables=list(base.variables),
                                  fallback_key=fallback),
        source=VersionSource.PROPOSAL, note=note[:2000], author_id=actor_id, author_name=actor_name,
    )  # fmt: skip
    PromptEvent.objects.create(
        action=EventAction.VERSION_CREATED, prompt_id=prompt_id, version=number, actor_id=actor_id,
        actor_name=actor_name, note=note[:2000], detail={"hash": row.content_hash, **(detail or {})},
    )  # fmt: skip
    audit_record(
        action=AuditAction.PROMPT_VERSION_CREATED, actor=actor, target_type="prompt_version", target_id=row.key,
        after={"version": number, "hash": row.content_hash, "base_version": base.version, "fallback_key": fallback},
        detail={"note": note[:2000], **(detail or {})},
    )  # fmt: skip
    return row


def event_record(
    *, action: EventAction, actor: Actor, prompt_id: str = "", version: int | None = None, note: str = "",
    detail: dict[str, Any] | None = None,
) -> PromptEvent:  # fmt: skip
    """Append one lifecycle event (proposals, experiments, model tiers use it)."""
    actor_id, actor_name = actor_identity(actor)
    return PromptEvent.objects.create(
        action=action, prompt_id=prompt_id, version=version, actor_id=actor_id, actor_name=actor_name,
        note=note[:2000], detail=detail or {},
    )  # fmt: skip


def _toml_string(text: str) -> str:
    """``text`` as a TOML string that reads back exactly: a multi-line literal string (the
    newline after the opening quotes is not part of it) unless the text cannot be one."""
    literal_ok = "'''" not in text and not text.endswith("'") and all(c in "\t\n" or " " <= c != "\x7f" for c in text)
    if literal_ok and "\r" not in text:
        return f"'''\n{text}'''"
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def version_file_text(*, prompt_id: str, version: int) -> str:
    """A registry version as a library file (``vN.toml``): how a version approved in the
    browser is put into the repository, where it becomes code like the others."""
    row = PromptVersion.objects.filter(prompt_id=prompt_id, version=version).first()
    if row is None:
        raise ApplicationError(f"There is no version {version} of the prompt {prompt_id!r}.")
    note = row.note or (f"Approved in the browser (by {row.author_name})." if row.author_name else "")
    lines = [f"version = {row.version}", f"note = {json.dumps(note, ensure_ascii=False)}"]
    if row.fallback_key:
        lines.append(f"fallback = {json.dumps(row.fallback_key)}")
    for message in row.messages:
        lines += ["", "[[messages]]", f"role = {json.dumps(message['role'])}",
                  f"template = {_toml_string(message['template'])}"]  # fmt: skip
    text = "\n".join(lines) + "\n"
    data = tomllib.loads(text)
    read_back = [{"role": m["role"], "template": m["template"]} for m in data["messages"]]
    if content_hash(kind=row.kind, messages=read_back, variables=list(row.variables),
                    fallback_key=data.get("fallback", "")) != row.content_hash:  # fmt: skip
        raise ApplicationError(f"{row.key} does not survive a round trip through TOML; export it by hand.")
    return text
