"""API tokens (django-rest-knox): expiring, stored only as a SHA-512 digest, revocable.

The clear token exists once, in the answer to the request that created it; the database keeps
its digest and its first 15 characters (knox's lookup key), so a copy of the database does not
let anyone call the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from knox.models import AuthToken
from knox.settings import knox_settings

from core.errors import ApplicationError


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown to the caller once; never stored
    expiry: datetime | None


@transaction.atomic
def api_token_create(*, user: AbstractBaseUser) -> IssuedToken:
    """A new token for ``user`` that expires after REST_KNOX's TOKEN_TTL.

    Refused (ApplicationError) when the user already has TOKEN_LIMIT_PER_USER live tokens."""
    # Lock the user's row so that two concurrent requests cannot both pass the limit.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    limit: int | None = knox_settings.TOKEN_LIMIT_PER_USER
    if limit is not None:
        live = AuthToken.objects.filter(user=user, expiry__gt=timezone.now()).count()
        if live >= limit:
            raise ApplicationError(
                f"you already have {live} API tokens; revoke one (POST /api/auth/logout/ with it) "
                "or all of them (POST /api/auth/logout-all/) first"
            )
    instance, token = AuthToken.objects.create(user=user, expiry=knox_settings.TOKEN_TTL)
    return IssuedToken(token=token, expiry=instance.expiry)


def api_token_revoke(*, token: AuthToken) -> None:
    """Revoke one token (the one a request was authenticated with)."""
    token.delete()


def api_tokens_revoke_all(*, user: AbstractBaseUser) -> int:
    """Revoke every token of ``user``; returns how many there were."""
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted
