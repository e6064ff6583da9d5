"""Parsing numbers out of request input (query strings, form fields, API fields).

Python's int() accepts any Unicode digit ("٣" is 3), signs, underscores and surrounding space,
and nothing bounds its size, which the database then refuses with a 500. Request input is
parsed here instead: ASCII digits only, within bounds, or an ApplicationError whose message
names the parameter (APIs turn it into a 400; views answer 400 with it)."""

from __future__ import annotations

import re

from rest_framework import serializers

from core.errors import ApplicationError

_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")
# The largest id PostgreSQL's bigint holds.
BIGINT_MAX = 2**63 - 1


def int_param(raw: str | None, *, name: str, default: int, minimum: int, maximum: int) -> int:
    """``raw`` as an int in [minimum, maximum]; ``default`` when it is missing or empty."""
    if raw is None or raw == "":
        return default
    if not _ASCII_DIGITS.fullmatch(raw):
        raise ApplicationError(f"{name} must be a whole number written with the digits 0-9")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise ApplicationError(f"{name} must be between {minimum} and {maximum}")
    return value


def id_param(raw: str | None, *, name: str) -> int:
    """A database id (1 .. bigint max); missing or empty is an error."""
    if raw is None or raw == "":
        raise ApplicationError(f"{name} is required")
    return int_param(raw, name=name, default=0, minimum=1, maximum=BIGINT_MAX)


class AsciiIntegerField(serializers.IntegerField):
    """DRF's IntegerField without int()'s leniency: a string must be ASCII digits (JSON numbers
    pass as before)."""

    def to_internal_value(self, data: object) -> int:
        if isinstance(data, str) and not _ASCII_DIGITS.fullmatch(data):
            self.fail("invalid")
        return int(super().to_internal_value(data))
