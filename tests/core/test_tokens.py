"""API tokens: created with the password or a session, expiring, stored hashed, revocable."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone
from knox.models import AuthToken

from tests.factories import PASSWORD, user_create

pytestmark = pytest.mark.django_db


def _basic(username: str, password: str = PASSWORD) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def _token_header(token: str) -> dict[str, str]:
    return {"authorization": f"Token {token}"}


def _create_token(username: str) -> dict:
    response = Client().post("/api/auth/token/", headers=_basic(username))
    assert response.status_code == 201, response.content
    return response.json()


def test_a_token_made_with_the_password_works_on_the_api() -> None:
    user_create(username="tok-alice")
    token = _create_token("tok-alice")["token"]
    me = Client().get("/api/me/", headers=_token_header(token))
    assert me.status_code == 200
    assert me.json()["username"] == "tok-alice"


def test_a_signed_in_browser_session_can_make_a_token_with_its_csrf_token() -> None:
    user_create(username="tok-session")
    client = Client(enforce_csrf_checks=True)
    client.login(username="tok-session", password=PASSWORD)
    assert client.post("/api/auth/token/").status_code == 403  # no CSRF token: refused
    client.get("/accounts/login/")  # sets the CSRF cookie (redirects a signed-in user)
    client.get("/chat/")
    csrf = client.cookies["csrftoken"].value
    response = client.post("/api/auth/token/", headers={"x-csrftoken": csrf})
    assert response.status_code == 201
    assert Client().get("/api/me/", headers=_token_header(response.json()["token"])).status_code == 200


def test_a_token_cannot_be_made_with_a_wrong_password_or_with_another_token() -> None:
    user_create(username="tok-bob")
    assert Client().post("/api/auth/token/", headers=_basic("tok-bob", "wrong")).status_code == 401
    token = _create_token("tok-bob")["token"]
    # A token minting its successor would never expire.
    assert Client().post("/api/auth/token/", headers=_token_header(token)).status_code == 401


def test_a_token_expires_after_the_configured_time() -> None:
    user_create(username="tok-carol")
    issued = _create_token("tok-carol")
    expiry = timezone.datetime.fromisoformat(issued["expiry"])
    assert abs(expiry - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)
    with override_settings(REST_KNOX={"TOKEN_TTL": timedelta(hours=1), "USER_SERIALIZER": None}):
        short = _create_token("tok-carol")
    assert abs(timezone.datetime.fromisoformat(short["expiry"]) - timezone.now() - timedelta(hours=1)) < timedelta(
        minutes=1
    )


def test_an_expired_token_is_refused_with_401() -> None:
    user_create(username="tok-dave")
    token = _create_token("tok-dave")["token"]
    assert Client().get("/api/me/", headers=_token_header(token)).status_code == 200
    AuthToken.objects.filter(user__username="tok-dave").update(expiry=timezone.now() - timedelta(seconds=1))
    response = Client().get("/api/me/", headers=_token_header(token))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"


def test_the_database_holds_only_a_digest_of_the_token() -> None:
    user_create(username="tok-erin")
    token = _create_token("tok-erin")["token"]
    assert len(token) == 64
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM knox_authtoken")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert token not in stored
    assert hashlib.sha512(token.encode()).hexdigest() in stored


def test_logout_revokes_the_token_it_was_sent_with() -> None:
    user_create(username="tok-frank")
    first = _create_token("tok-frank")["token"]
    second = _create_token("tok-frank")["token"]
    assert Client().post("/api/auth/logout/", headers=_token_header(first)).status_code == 204
    assert Client().get("/api/me/", headers=_token_header(first)).status_code == 401
    assert Client().get("/api/me/", headers=_token_header(second)).status_code == 200


def test_logout_all_revokes_every_token_of_the_caller_only() -> None:
    user_create(username="tok-grace")
    user_create(username="tok-heidi")
    mine = [_create_token("tok-grace")["token"] for _ in range(2)]
    theirs = _create_token("tok-heidi")["token"]
    assert Client().post("/api/auth/logout-all/", headers=_token_header(mine[0])).status_code == 204
    assert [Client().get("/api/me/", headers=_token_header(t)).status_code for t in mine] == [401, 401]
    assert Client().get("/api/me/", headers=_token_header(theirs)).status_code == 200


def test_the_number_of_live_tokens_per_user_is_bounded() -> None:
    user_create(username="tok-ivan")
    with override_settings(REST_KNOX={"TOKEN_LIMIT_PER_USER": 2, "USER_SERIALIZER": None}):
        _create_token("tok-ivan")
        _create_token("tok-ivan")
        refused = Client().post("/api/auth/token/", headers=_basic("tok-ivan"))
    assert refused.status_code == 400
    assert "revoke" in refused.json()["detail"]
