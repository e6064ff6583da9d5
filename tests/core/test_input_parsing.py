"""Numbers in request input: ASCII digits within bounds, else 400 with a message (never a 500).

Python's int() reads "٣" (Arabic-Indic three) as 3 and "²" not at all, and nothing bounds a
number's size before PostgreSQL refuses it; each endpoint that reads a number is driven here
with the same hostile values."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core.errors import ApplicationError
from core.params import BIGINT_MAX, id_param, int_param
from core.roles import DOCUMENT_ADMINS, REVIEWERS
from tests.factories import collection_create, user_create

HOSTILE = ["abc", "٣", "²", "-1", "99999999999999999999999999", " 7", "7_0", "+7", "0x10"]


@pytest.mark.parametrize("raw", HOSTILE)
def test_int_param_refuses_anything_but_ascii_digits_in_bounds(raw: str) -> None:
    with pytest.raises(ApplicationError, match="days must be"):
        int_param(raw, name="days", default=30, minimum=1, maximum=365)


def test_int_param_reads_ascii_digits_and_applies_the_default_and_bounds() -> None:
    assert int_param("7", name="days", default=30, minimum=1, maximum=365) == 7
    assert int_param(None, name="days", default=30, minimum=1, maximum=365) == 30
    assert int_param("", name="days", default=30, minimum=1, maximum=365) == 30
    with pytest.raises(ApplicationError, match="between 1 and 365"):
        int_param("366", name="days", default=30, minimum=1, maximum=365)
    assert id_param(str(BIGINT_MAX), name="id") == BIGINT_MAX
    with pytest.raises(ApplicationError, match="between 1"):
        id_param(str(BIGINT_MAX + 1), name="id")
    with pytest.raises(ApplicationError, match="required"):
        id_param("", name="id")


# --------------------------------------------------------------------------- endpoints
@pytest.fixture
def staff_client(db: None) -> Client:
    client = Client()
    client.force_login(user_create(staff=True, groups=(DOCUMENT_ADMINS, REVIEWERS, "team")))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["abc", "٣", "-1", "0", "366", "99999999999999999999999999"])
def test_usage_page_answers_400_for_a_bad_days_value(staff_client: Client, raw: str) -> None:
    response = staff_client.get("/ops/usage/", {"days": raw})
    assert response.status_code == 400
    assert "days must be" in response.content.decode()


@pytest.mark.django_db
def test_usage_page_reads_a_good_days_value(staff_client: Client) -> None:
    assert staff_client.get("/ops/usage/", {"days": "7"}).status_code == 200
    assert staff_client.get("/ops/usage/").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["٣", "²", "-1", "0", "99999999999999999999999999"])
def test_upload_api_answers_400_for_a_bad_collection_id(staff_client: Client, raw: str) -> None:
    collection_create(name="Team docs", groups=("team",))
    response = staff_client.post(
        "/api/documents/upload/", {"collection": raw, "file": SimpleUploadedFile("a.md", b"# A\n\ntext")}
    )
    assert response.status_code == 400, response.content
    assert "collection" in response.json()["detail"]


@pytest.mark.django_db
def test_upload_api_still_takes_a_collection_by_ascii_id_or_by_name(staff_client: Client, monkeypatch) -> None:
    monkeypatch.setattr("ingestion.tasks.process_document.delay", lambda document_id: None)
    collection = collection_create(name="Team docs", groups=("team",))
    by_id = staff_client.post(
        "/api/documents/upload/", {"collection": str(collection.pk), "file": SimpleUploadedFile("a.md", b"# A\n\none")}
    )
    by_name = staff_client.post(
        "/api/documents/upload/", {"collection": "abc", "file": SimpleUploadedFile("b.md", b"# B\n\ntwo")}
    )
    assert by_id.status_code == 202
    assert by_name.status_code == 403  # "abc" is a name; no such collection


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["abc", "٣", "-1", "0", "51", "99999999999999999999999999"])
def test_search_api_answers_400_for_a_bad_k(staff_client: Client, raw: str) -> None:
    response = staff_client.get("/api/search/", {"q": "holidays", "k": raw})
    assert response.status_code == 400
    assert "k" in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["abc", "٣", "-1", "0", "51", "99999999999999999999999999"])
def test_retrieval_tester_answers_400_for_a_bad_k(staff_client: Client, raw: str) -> None:
    response = staff_client.get("/documents/retrieval/", {"q": "holidays", "k": raw})
    assert response.status_code == 400
    assert "k must be" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["abc", "٣", "-1", "99999999999999999999999999"])
def test_triage_shows_a_message_not_an_exception_for_a_bad_feedback_id(staff_client: Client, raw: str) -> None:
    response = staff_client.post("/review/triage/", {"feedback_id": raw, "state": "resolved"}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "feedback_id must be" in page
    assert "invalid literal" not in page


@pytest.mark.django_db
def test_document_urls_with_a_huge_id_are_404(staff_client: Client) -> None:
    huge = "99999999999999999999999999"
    assert staff_client.get(f"/api/documents/{huge}/").status_code == 404
    assert staff_client.get(f"/documents/{huge}/file/").status_code == 404
