"""Abuse limits: login lockout (django-axes), and the per-user budgets for questions, searches
and uploads that REST, the chat socket and the pages share through one Redis counter."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import redis
from asgiref.sync import sync_to_async
from axes.utils import reset as axes_reset
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings

from core.services.rate_limits import WINDOW_SECONDS, RateScope, rate_limit_consume, rate_limit_key
from qa.models import Answer
from tests.factories import PASSWORD, user_create
from tests.helpers import ROOT, database_url_for, process_env, session_cookie_for, socket

pytestmark = pytest.mark.django_db


def raw_redis() -> redis.Redis:
    """The cache's Redis database (db 1), read directly, as another process would."""
    location = settings.CACHES["default"]["LOCATION"]
    parts = urlsplit(location)
    if parts.scheme == "unix":
        return redis.Redis(unix_socket_path=parts.path, db=int(dict(parse_qsl(parts.query)).get("db", 0)))
    return redis.Redis.from_url(location)


def counter_in_redis(*, scope: RateScope, identity: str) -> int | None:
    window_start = int(time.time() // WINDOW_SECONDS) * WINDOW_SECONDS
    value = raw_redis().get(cache.make_key(rate_limit_key(scope=scope, identity=identity, window_start=window_start)))
    return None if value is None else int(value)


@pytest.fixture(autouse=True)
def fresh_counters() -> None:
    """Counters outlive test databases (user ids repeat across runs): start from none, and far
    enough from a minute's end that one test's requests fall in one window."""
    client = raw_redis()
    for key in client.scan_iter(match=cache.make_key("verity:ratelimit:*")):
        client.delete(key)
    if time.time() % WINDOW_SECONDS > WINDOW_SECONDS - 8:
        time.sleep(WINDOW_SECONDS - time.time() % WINDOW_SECONDS + 0.1)


# --------------------------------------------------------------------------- login
def _login(client: Client, username: str, password: str) -> object:
    return client.post("/accounts/login/", {"username": username, "password": password})


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=3, AXES_COOLOFF_TIME=timedelta(seconds=2))
def test_login_locks_out_after_repeated_failures_then_works_after_the_cool_off() -> None:
    user_create(username="target")
    user_create(username="bystander")
    client = Client()
    for _ in range(2):
        assert _login(client, "target", "wrong").status_code == 200  # the form again, with its error
    locked = _login(client, "target", "wrong")
    assert locked.status_code == 429
    assert b"Too many sign-in attempts" in locked.content and b"3 times" in locked.content
    # Locked: even the right password is refused, without being checked.
    refused = _login(client, "target", PASSWORD)
    assert refused.status_code == 429 and "_auth_user_id" not in client.session
    # Per username and address: another account from the same address still signs in.
    assert _login(Client(), "bystander", PASSWORD).status_code == 302
    time.sleep(2.2)
    assert _login(client, "target", PASSWORD).status_code == 302


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=2)
def test_an_admin_can_lift_a_lockout() -> None:
    user_create(username="forgetful")
    client = Client()
    for _ in range(2):
        _login(client, "forgetful", "wrong")
    assert _login(client, "forgetful", PASSWORD).status_code == 429
    assert axes_reset(username="forgetful") >= 1  # what `manage.py axes_reset_username` does
    assert _login(client, "forgetful", PASSWORD).status_code == 302


# --------------------------------------------------------------------------- questions
@override_settings(VERITY_RATE_QUESTIONS_PER_MINUTE=2)
def test_rest_ask_gets_429_with_retry_after_once_the_budget_is_spent() -> None:
    client = Client()
    user = user_create(username="asker")
    client.force_login(user)
    for _ in range(2):  # counted even when the question itself is refused (blank)
        assert client.post("/api/ask/", {"question": " "}, content_type="application/json").status_code == 400
    limited = client.post("/api/ask/", {"question": "What is the hotel limit?"}, content_type="application/json")
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= WINDOW_SECONDS
    stream = client.post("/api/ask/stream/", {"question": "What is the hotel limit?"}, content_type="application/json")
    assert stream.status_code == 429 and "Retry-After" in stream
    # Refused before anything was recorded (let alone embedded).
    assert Answer.objects.count() == 0
    assert counter_in_redis(scope=RateScope.QUESTIONS, identity=str(user.pk)) == 4


@pytest.mark.django_db(transaction=True)
@override_settings(VERITY_RATE_QUESTIONS_PER_MINUTE=3)
async def test_the_chat_socket_and_the_api_share_one_question_budget() -> None:
    user = await sync_to_async(user_create)(username="switcher")
    client = Client()
    await sync_to_async(client.force_login)(user)
    for _ in range(2):
        response = await sync_to_async(client.post)("/api/ask/", {"question": " "}, content_type="application/json")
        assert response.status_code == 400
    communicator = socket("/ws/chat/", cookie=await sync_to_async(session_cookie_for)(user))
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data=json.dumps({"question": " "}))
    assert "type a question" in await communicator.receive_from(timeout=5)  # the third: allowed
    await communicator.send_to(text_data=json.dumps({"question": "What is the hotel limit in London?"}))
    limited = await communicator.receive_from(timeout=5)
    # The error event the page shows: its error line, escaped, with when to try again.
    assert limited.startswith('<div id="chat-error" hx-swap-oob="true" role="alert" class="error">')
    assert "limit of 3 questions per minute" in limited and "try again in" in limited
    assert await sync_to_async(Answer.objects.count)() == 0, "a refused question was recorded (and embedded)"
    # ...and the socket's questions count for REST too.
    response = await sync_to_async(client.post)("/api/ask/", {"question": " "}, content_type="application/json")
    assert response.status_code == 429
    assert counter_in_redis(scope=RateScope.QUESTIONS, identity=str(user.pk)) == 5
    await communicator.disconnect()


# --------------------------------------------------------------------------- search and upload
@override_settings(VERITY_RATE_SEARCHES_PER_MINUTE=2)
def test_search_api_and_retrieval_tester_share_a_search_budget() -> None:
    staff = user_create(username="searcher", staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get("/api/search/").status_code == 400  # no q: counted, refused by validation
    assert client.get("/api/search/", {"q": ""}).status_code == 400
    api = client.get("/api/search/", {"q": "hotel limit"})
    assert api.status_code == 429 and int(api["Retry-After"]) >= 1
    page = client.get("/documents/retrieval/", {"q": "hotel limit"})
    assert page.status_code == 429 and int(page["Retry-After"]) >= 1
    assert b"limit of 2 searches per minute" in page.content
    assert client.get("/documents/retrieval/").status_code == 200  # the empty form is no search


@override_settings(VERITY_RATE_UPLOADS_PER_MINUTE=1)
def test_upload_api_is_throttled() -> None:
    client = Client()
    client.force_login(user_create(username="uploader", staff=True))
    assert client.post("/api/documents/upload/", {}).status_code in (400, 403)
    limited = client.post("/api/documents/upload/", {})
    assert limited.status_code == 429 and "Retry-After" in limited


# --------------------------------------------------------------------------- the counter itself
@override_settings(VERITY_RATE_QUESTIONS_PER_MINUTE=10)
def test_the_counter_is_atomic_under_concurrency() -> None:
    decisions = []
    barrier = threading.Barrier(20)

    def ask() -> None:
        barrier.wait()
        decisions.append(rate_limit_consume(scope=RateScope.QUESTIONS, identity="racer"))

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(d.allowed for d in decisions) == 10
    assert sorted(d.count for d in decisions) == list(range(1, 21))


@override_settings(VERITY_RATE_QUESTIONS_PER_MINUTE=2)
def test_a_new_window_starts_a_new_budget() -> None:
    start = 1_000_020.0  # 1,000,020 is a multiple of 60
    assert [rate_limit_consume(scope=RateScope.QUESTIONS, identity="w", now=start + s).allowed for s in (1, 2, 3)] == [
        True,
        True,
        False,
    ]
    refused = rate_limit_consume(scope=RateScope.QUESTIONS, identity="w", now=start + 50)
    assert refused.retry_after == 10 and "try again in 10 seconds" in refused.message
    assert rate_limit_consume(scope=RateScope.QUESTIONS, identity="w", now=start + 61).allowed


@pytest.mark.slow
@override_settings(VERITY_RATE_QUESTIONS_PER_MINUTE=100)
def test_the_counter_is_shared_across_processes() -> None:
    assert rate_limit_consume(scope=RateScope.QUESTIONS, identity="shared").count == 1
    # Another Django process (a second web server) on the same Redis counts on the same key.
    script = (
        "import django; django.setup();"
        "from core.services.rate_limits import RateScope, rate_limit_consume;"
        "print(rate_limit_consume(scope=RateScope.QUESTIONS, identity='shared').count)"
    )
    env = process_env(
        REDIS_URL=settings.REDIS_URL, DATABASE_URL=database_url_for(settings.DATABASES["default"]["NAME"])
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert result.stdout.decode().strip().splitlines()[-1] == "2"
    assert rate_limit_consume(scope=RateScope.QUESTIONS, identity="shared").count == 3
    assert counter_in_redis(scope=RateScope.QUESTIONS, identity="shared") == 3
    window_start = int(time.time() // WINDOW_SECONDS) * WINDOW_SECONDS
    key = cache.make_key(rate_limit_key(scope=RateScope.QUESTIONS, identity="shared", window_start=window_start))
    assert 0 < raw_redis().ttl(key) <= WINDOW_SECONDS + 5  # counters expire on their own


# --------------------------------------------------------------------------- Redis outage
DEAD_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/1",  # nothing listens on port 1
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


@override_settings(VERITY_RATE_SEARCHES_PER_MINUTE=2, CACHES=DEAD_CACHE)
def test_an_unreachable_redis_fails_open_instead_of_answering_500() -> None:
    decision = rate_limit_consume(scope=RateScope.SEARCHES, identity="outage")
    assert decision.allowed and decision.count == 0
    client = Client()
    client.force_login(user_create(username="during-outage", staff=True))
    for _ in range(3):  # over the limit of 2: nothing is counted while Redis is away
        response = client.get("/api/search/", {"q": "hotel limit"})
        assert response.status_code == 200, response.content[:300]


def test_drf_default_throttles_fail_open_when_redis_is_unreachable() -> None:
    from django.contrib.auth.models import AnonymousUser
    from rest_framework.test import APIRequestFactory

    from core.throttles import AnonThrottle, UserThrottle

    request = APIRequestFactory().get("/api/search/")
    request.user = AnonymousUser()
    with override_settings(CACHES=DEAD_CACHE):
        from django.core.cache import caches

        for throttle_class in (AnonThrottle, UserThrottle):
            throttle = throttle_class()
            throttle.rate, throttle.cache = "5/min", caches["default"]
            throttle.num_requests, throttle.duration = 5, 60
            assert throttle.allow_request(request, None) is True


@override_settings(VERITY_RATE_UPLOADS_PER_MINUTE=1)
def test_the_documents_page_and_the_admin_share_the_upload_budget() -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from core.roles import DOCUMENT_ADMINS
    from ingestion.models import Document
    from tests.factories import collection_create

    admin = user_create(username="bulk-uploader", superuser=True, groups=(DOCUMENT_ADMINS, "team"))
    collection = collection_create(name="Team docs", groups=("team",))
    client = Client()
    client.force_login(admin)
    first = client.post(
        "/documents/upload/", {"collection": collection.pk, "files": [SimpleUploadedFile("a.md", b"# A\n\nOne.\n")]},
        headers={"HX-Request": "true"},
    )  # fmt: skip
    assert first.status_code == 200 and Document.objects.count() == 1
    second = client.post(
        "/documents/upload/", {"collection": collection.pk, "files": [SimpleUploadedFile("b.md", b"# B\n\nTwo.\n")]},
        headers={"HX-Request": "true"},
    )  # fmt: skip
    assert second.status_code == 429 and int(second["Retry-After"]) >= 1
    assert b"limit of 1 uploads per minute" in second.content
    admin_upload = client.post(
        "/admin/ingestion/document/upload/",
        {"collection": collection.pk, "uploads": [SimpleUploadedFile("c.md", b"# C\n\nThree.\n")]},
        follow=True,
    )
    assert b"limit of 1 uploads per minute" in admin_upload.content
    assert Document.objects.count() == 1
