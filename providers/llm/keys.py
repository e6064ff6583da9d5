"""Which environment variables a model tier may read its API key from.

A tier row (admin) or an ``LLM_TIERS`` entry names the variable that holds its key, and the key is
sent as a bearer token to the tier's base URL, which an admin also chooses. Without a limit, a
tier could name ``SECRET_KEY`` or ``DATABASE_URL`` and send that value to any host (issue #10,
finding 8). So a tier may only name variables that start with ``LLM_API_KEY_ENV_PREFIX``
(``VERITY_LLM_KEY_`` by default): nothing else in Verity's configuration uses that prefix.
"""

from __future__ import annotations

import os
import re

from django.conf import settings

# Upper-case letters, digits and underscores after the prefix: the shape of an environment variable.
_SUFFIX = re.compile(r"[A-Z0-9_]{1,64}")


class ApiKeyEnvNotAllowed(ValueError):
    """A tier names an environment variable outside the documented prefix."""


def api_key_env_problem(name: str) -> str | None:
    """Why ``name`` may not hold a tier's API key, or None when it may. An empty name is allowed
    (the tier then uses ``OPENAI_API_KEY``)."""
    if not name:
        return None
    prefix = settings.LLM_API_KEY_ENV_PREFIX
    if not name.startswith(prefix) or not _SUFFIX.fullmatch(name[len(prefix) :]):
        return (
            f"API key variable {name!r} is not allowed: a tier's key must be in an environment variable "
            f"named {prefix}<NAME> (upper-case letters, digits, underscores)"
        )
    return None


def api_key_from_env(name: str) -> str:
    """The key in environment variable ``name``; raises ``ApiKeyEnvNotAllowed`` for a name outside
    the prefix, so a bad row that reached the database by another route still sends nothing."""
    problem = api_key_env_problem(name)
    if problem:
        raise ApiKeyEnvNotAllowed(problem)
    return os.environ.get(name, "")
