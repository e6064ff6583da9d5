from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client

from core.roles import DOCUMENT_ADMINS, REVIEWERS
from core.services.api_tokens import api_token_create
from ingestion.models import Document
from ops.services.bootstrap import bootstrap_run
from tests.factories import PASSWORD, user_create

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/chat/", "/documents/", "/review/", "/"])
def test_pages_need_a_signed_in_user(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_admin_needs_staff(client: Client) -> None:
    user_create(username="plain")
    client.login(username="plain", password=PASSWORD)
    assert client.get("/admin/").status_code == 302
    user_create(username="boss", superuser=True)
    client.login(username="boss", password=PASSWORD)
    assert client.get("/admin/").status_code == 200


def test_login_and_logout_pages(client: Client) -> None:
    user_create(username="alice")
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b"Sign in" in page.content
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/chat/"
    chat = client.get("/chat/")
    assert chat.status_code == 200 and b"Ask your documents" in chat.content
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/chat/").status_code == 302


def test_wrong_password_is_refused(client: Client) -> None:
    user_create(username="alice")
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"didn&#x27;t match" in response.content or b"didn't match" in response.content


def test_api_needs_authentication_and_accepts_session_and_token(client: Client) -> None:
    assert client.get("/api/me/").status_code == 401
    user = user_create(username="api-user", groups=(REVIEWERS,))
    token = api_token_create(user=user).token
    by_token = Client().get("/api/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert by_token.status_code == 200
    assert by_token.json() == {
        "username": "api-user",
        "is_staff": False,
        "is_reviewer": True,
        "is_document_admin": False,
    }
    client.login(username="api-user", password=PASSWORD)
    assert client.get("/api/me/").json()["username"] == "api-user"
    assert Client().get("/api/me/", HTTP_AUTHORIZATION="Token wrong").status_code == 401


def test_openapi_schema_is_generated(client: Client) -> None:
    assert client.get("/api/schema/").status_code == 401
    assert client.get("/api/docs/").status_code in (401, 403)
    user_create(username="alice")
    client.login(username="alice", password=PASSWORD)
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/me/" in response.content


def test_review_page_only_for_reviewers(client: Client) -> None:
    user_create(username="reader")
    client.login(username="reader", password=PASSWORD)
    assert client.get("/review/").status_code == 403
    assert b'href="/review/"' not in client.get("/chat/").content
    user_create(username="checker", groups=(REVIEWERS,))
    client.login(username="checker", password=PASSWORD)
    assert client.get("/review/").status_code == 200
    assert b'href="/review/"' in client.get("/chat/").content


def test_bootstrap_creates_roles_accounts_and_demo_corpus_once(settings, capsys) -> None:
    settings.VERITY_ADMIN_PASSWORD = ""
    settings.VERITY_DEMO_PASSWORD = "demo-pass-123"
    first = bootstrap_run()
    assert set(first.created_credentials) == {"admin", "demo", "reviewer", "docadmin", "editor"}
    assert first.created_credentials["demo"] == "demo-pass-123"
    assert len(first.created_credentials["admin"]) >= 12  # generated
    assert Group.objects.filter(name__in=[REVIEWERS, DOCUMENT_ADMINS]).count() == 2
    assert first.documents_loaded == 4
    assert Document.objects.count() == 4

    call_command("bootstrap")
    out = capsys.readouterr().out
    assert "passwords are shown this once" not in out  # nothing new created, nothing printed
    assert Document.objects.count() == 4  # same content is not stored twice

    client = Client()
    assert client.login(username="demo", password="demo-pass-123")
    page = client.get("/documents/")
    assert b"Travel and Expense Policy" in page.content


def test_browsable_api_docs_are_served_without_a_cdn(client: Client) -> None:
    user_create(username="alice")
    client.login(username="alice", password=PASSWORD)
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html and "/static/drf_spectacular_sidecar/" in html
    assert "cdn.jsdelivr" not in html and "unpkg" not in html
