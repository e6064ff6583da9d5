"""What other apps receive from the registry: a prompt version as a frozen value, rendered by
``string.Template`` (``${name}`` placeholders: no attribute or index access, so a template an
editor writes cannot reach into the objects it is rendered with)."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class TemplateError(ValueError):
    """A template that cannot be rendered: an unknown or missing variable, a bad placeholder."""


def key_of(prompt_id: str, version: int) -> str:
    return f"{prompt_id}-v{version}"


def key_parse(key: str) -> tuple[str, int]:
    """``answer_strict-v1`` -> (``answer_strict``, 1); ValueError when it is not a key."""
    prompt_id, sep, version = key.rpartition("-v")
    if not sep or not prompt_id or not version.isdigit():
        raise ValueError(f"not a prompt key: {key!r} (expected <prompt id>-v<version>)")
    return prompt_id, int(version)


def placeholders(template: str) -> list[str]:
    """The ``${name}`` / ``$name`` placeholders of a template, in order, each once; raises
    TemplateError on a malformed one (a lone ``$`` must be written ``$$``)."""
    names: list[str] = []
    for match in string.Template.pattern.finditer(template):
        if match.group("invalid") is not None:
            line = template[: match.start()].count("\n") + 1
            raise TemplateError(f"line {line}: a lone '$' (write $$ for a dollar sign, ${{name}} for a variable)")
        name = match.group("named") or match.group("braced")
        if name and name not in names:
            names.append(name)
    return names


@dataclass(frozen=True)
class PromptMessage:
    role: str  # a Role for chat prompts; an entry name for wording (``decline_model``)
    template: str


@dataclass(frozen=True)
class PromptTemplate:
    prompt_id: str
    version: int
    messages: tuple[PromptMessage, ...]
    variables: tuple[str, ...] = ()
    fallback_key: str = ""
    content_hash: str = ""
    # Set when an experiment chose this version for the asker.
    arm_id: int | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return key_of(self.prompt_id, self.version)

    def render(self, **values: str) -> list[dict[str, str]]:
        """Chat messages with every placeholder filled; TemplateError when one is missing."""
        return [{"role": m.role, "content": _substitute(m.template, values, self.key)} for m in self.messages]

    def text(self, entry: str, **values: str) -> str:
        """One named entry of a wording prompt, filled."""
        for message in self.messages:
            if message.role == entry:
                return _substitute(message.template, values, self.key)
        raise TemplateError(f"{self.key} has no entry {entry!r}")

    def template_of(self, role: str) -> str:
        return next((m.template for m in self.messages if m.role == role), "")


def _substitute(template: str, values: dict[str, str], key: str) -> str:
    try:
        return string.Template(template).substitute(values)
    except KeyError as exc:
        raise TemplateError(f"{key}: no value for ${{{exc.args[0]}}}") from exc
    except ValueError as exc:
        raise TemplateError(f"{key}: {exc}") from exc
