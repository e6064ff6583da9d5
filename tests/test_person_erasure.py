"""Export and erasure of a person (issue #14, point 5). The acceptance test: a user who asked
questions (the real pipeline and embedding model), gave feedback, had a review item, cache
entries, a precomputed answer, an upload, sign-ins and audit events is erased; then every text
and JSON column of every table is searched for their questions and username, and every column
that points at a user for their id: nothing is left but the one anonymised PERSON_ERASED event."""

from __future__ import annotations

import json
import re

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse

from core.models import AuditAction, AuditEvent, UserLegalHold
from core.services.audit import audit_verify
from ingestion.models import Document
from qa.models import (
    Answer,
    CacheLookup,
    Conversation,
    Feedback,
    Interaction,
    ReusableAnswer,
    ReviewAction,
    ReviewItem,
    UsageCounter,
)
from qa.pipeline.precompute import precompute_run
from qa.review.feedback import feedback_submit
from qa.review.queue import review_approve
from qa.services.person_data import ERASED_TEXT, PersonOnLegalHold, person_erase, person_export
from tests.factories import PASSWORD, user_create
from tests.helpers import ask
from tests.qa.fakes import ScriptedProvider

pytestmark = pytest.mark.django_db

USERNAME = "zelda-erasable"
HOTEL = "What is the hotel limit in London"
MEALS = "How are meals covered while travelling"
DOSE = "What dose of ibuprofen should I take for my back pain at work"


def _scan(*, texts: list[str], user_id: int) -> list[str]:
    """Every (table, column) in the database holding one of ``texts`` (text, varchar, JSON and
    JSONB columns, case-insensitive) or ``user_id`` (columns that reference auth_user, and any
    column named actor_id, user_id or author_id)."""
    found: list[str] = []
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        cursor.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        )
        columns = [(t, c, d) for t, c, d in cursor.fetchall() if t in tables]
        user_columns: set[tuple[str, str]] = set()
        for table in tables:
            for column, (_, target) in connection.introspection.get_relations(cursor, table).items():
                if target == User._meta.db_table:
                    user_columns.add((table, column))
        user_columns |= {(t, c) for t, c, _ in columns if c in ("actor_id", "user_id", "author_id")}
        assert ("qa_conversation", "user_id") in user_columns and ("core_auditevent", "actor_id") in user_columns
        for table, column, data_type in columns:
            if data_type in ("text", "character varying", "json", "jsonb"):
                for text in texts:
                    cursor.execute(
                        f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE %s',  # noqa: S608 - names from the catalogue
                        [f"%{text}%"],
                    )
                    if cursor.fetchone()[0]:
                        found.append(f"{table}.{column} holds {text!r}")
        for table, column in sorted(user_columns):
            cursor.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}" = %s', [user_id])  # noqa: S608
            if cursor.fetchone()[0]:
                found.append(f"{table}.{column} = the user's id")
    return found


@pytest.fixture
def person(staff, settings):
    """A user with a trace of every kind, and the reviewer and admin who dealt with them."""
    _, collection, docs = staff
    user = user_create(username=USERNAME, groups=("staff",))
    reviewer = user_create(username="reviewer-r", groups=("reviewers", "staff"))
    admin = user_create(username="admin-a", superuser=True)
    # Sign-ins: a session and a sign-in event; a failed attempt (username and address recorded).
    with override_settings(AXES_ENABLED=True):
        assert Client().post(reverse("login"), {"username": USERNAME, "password": PASSWORD}).status_code == 302
        Client().post(reverse("login"), {"username": USERNAME, "password": "wrong"})
    assert AccessAttempt.objects.filter(username=USERNAME).exists() and Session.objects.exists()
    # A model call (its prompt carries the question), a cached answer and a cache hit on it.
    ask(user, HOTEL + "?", providers=[ScriptedProvider("The hotel limit in London is 260 euros per night [1].")])
    first = ask(user, MEALS + "?")
    hit = ask(user, MEALS.lower())
    assert hit.reused_from_id is not None
    # A held answer, approved by a reviewer: a review record, its action, a curated answer.
    held = ask(user, DOSE + "?")
    review_approve(item_id=ReviewItem.objects.get(answer=held).pk, reviewer=reviewer, note="fine")
    feedback_submit(user=user, answer_id=first.pk, helpful=False, reason="incomplete", comment="Zelda says: more")
    # Their questions replayed off-peak (thresholds lowered: one asker suffices here).
    settings.QA_PRECOMPUTE_MIN_USERS, settings.QA_PRECOMPUTE_MIN_ASKS = 1, 1
    ReusableAnswer.objects.filter(origin="cached").delete()
    precompute_run()
    Document.objects.filter(pk=docs["travel"].pk).update(uploaded_by=user)
    person_export(user=user, actor=admin)

    assert Interaction.objects.filter(answer__conversation__user=user).exists()
    assert CacheLookup.objects.filter(answer=hit, hit=True).exists()
    assert ReusableAnswer.objects.filter(origin="curated", source_answer=held).exists()
    assert ReusableAnswer.objects.filter(origin="precomputed", question__icontains=MEALS).exists()
    assert Answer.objects.filter(conversation__user__username="verity-precompute", question__icontains=MEALS).exists()
    assert UsageCounter.objects.filter(scope__startswith=f"user:{user.pk}:").exists()
    assert AuditEvent.objects.filter(actor_id=user.pk, action=AuditAction.SIGN_IN).exists()
    assert AuditEvent.objects.filter(action=AuditAction.PERSON_EXPORTED, target_id=str(user.pk)).exists()
    assert _scan(texts=[HOTEL, MEALS, DOSE, USERNAME], user_id=user.pk), "the scan finds the traces before"
    return user, reviewer, admin


def test_after_erasure_no_table_holds_the_persons_questions_name_or_id(person) -> None:
    user, reviewer, admin = person
    user_id = user.pk
    review = ReviewItem.objects.get(answer__question__startswith=DOSE, answer__conversation__user=user)

    report = person_erase(user=user, actor=admin)

    assert _scan(texts=[HOTEL, MEALS, DOSE, USERNAME], user_id=user_id) == []
    assert not User.objects.filter(pk=user_id).exists()
    # The one record of the erasure: who erased, the counts, and the person only as a pseudonym.
    [event] = AuditEvent.objects.filter(action=AuditAction.PERSON_ERASED)
    assert (event.actor_id, event.target_id, event.seq) == (admin.pk, report.pseudonym, report.audit_seq)
    assert re.fullmatch(r"erased-user-[0-9a-f]{8}", report.pseudonym)  # random: not derived from the id
    assert event.detail["counts"]["conversations_deleted"] >= 3
    # Their sign-in events stay in the chain, under the pseudonym; the chain still verifies.
    assert AuditEvent.objects.filter(action=AuditAction.SIGN_IN, actor_name=report.pseudonym).exists()
    verified = audit_verify()
    assert verified.ok, verified.reason
    # The reviewer's decision stays on record, without the texts it judged.
    review.refresh_from_db()
    assert (review.state, review.decided_by, review.answer_id) == ("approved", reviewer, None)
    assert review.question_text == ERASED_TEXT == review.answer_text
    assert ReviewAction.objects.filter(item=review, reviewer=reviewer).exists()
    curated = ReusableAnswer.objects.get(origin="curated")
    assert (curated.active, curated.question) == (False, ERASED_TEXT)
    assert report.counts["documents_uploader_removed"] == 1 and Document.objects.count() == 3
    assert report.kept == {"prompt_events": 0, "prompt_versions": 0}
    assert report.counts["sign_in_records"] >= 1 and report.counts["sessions"] >= 1


def test_erasure_is_refused_under_a_legal_hold_and_changes_nothing(person) -> None:
    user, _, admin = person
    UserLegalHold.objects.create(user=user, reason="litigation 2026-17")
    answers, events = Answer.objects.count(), AuditEvent.objects.count()
    with pytest.raises(PersonOnLegalHold, match="legal hold"):
        person_erase(user=user, actor=admin)
    assert User.objects.filter(pk=user.pk).exists() and Answer.objects.count() == answers
    assert AuditEvent.objects.count() == events
    with pytest.raises(CommandError, match="legal hold"):
        call_command("user_erase", USERNAME, "--yes")


def test_the_export_holds_what_verity_knows_and_is_recorded(person, tmp_path) -> None:
    user, _, _ = person
    path = tmp_path / "export.json"
    call_command("user_export", USERNAME, "--output", str(path))
    data = json.loads(path.read_text())
    assert data["profile"]["username"] == USERNAME and data["legal_hold"] is None
    questions = [a["question"] for c in data["conversations"] for a in c["answers"]]
    assert {HOTEL + "?", MEALS + "?", MEALS.lower(), DOSE + "?"} <= set(questions)
    hotel = next(a for c in data["conversations"] for a in c["answers"] if a["question"] == HOTEL + "?")
    assert hotel["interactions"] and HOTEL in json.dumps(hotel["interactions"][0]["prompt"])
    assert hotel["citations"] and hotel["citations"][0]["source_name"]
    dose = next(a for c in data["conversations"] for a in c["answers"] if a["question"] == DOSE + "?")
    assert dose["review"]["state"] == "approved" and dose["review"]["question_text"] == DOSE + "?"
    assert [f["comment"] for f in data["feedback"]] == ["Zelda says: more"]
    assert {e["action"] for e in data["audit_events"]} >= {"auth.sign_in", "privacy.person_exported"}
    assert [d["source_name"] for d in data["documents_uploaded"]] == ["travel.md"]
    assert data["usage"] and data["usage"][0]["questions"] >= 1
    # Each export is recorded: the fixture's (by the admin) and the command's (by "system").
    exports = AuditEvent.objects.filter(action=AuditAction.PERSON_EXPORTED, target_id=str(user.pk))
    assert sorted(exports.values_list("actor_name", flat=True)) == ["admin-a", "system"]


def test_the_erase_command_needs_yes(staff) -> None:
    user = user_create(username="yan", groups=("staff",))
    ask(user, MEALS + "?")
    with pytest.raises(CommandError, match="--yes"):
        call_command("user_erase", "yan")
    assert Conversation.objects.filter(user=user).exists()
    with pytest.raises(CommandError, match="no user"):
        call_command("user_erase", "nobody", "--yes")
    call_command("user_erase", "yan", "--yes")
    assert not User.objects.filter(username="yan").exists() and not Conversation.objects.exists()


def test_the_admin_exports_and_erases_after_a_confirmation(staff, client) -> None:
    user = user_create(username="xavier", groups=("staff",))
    ask(user, MEALS + "?")
    admin = user_create(username="admin-a", superuser=True)
    client.force_login(admin)
    changelist = reverse("admin:auth_user_changelist")

    exported = client.post(changelist, {"action": "export_person_data", "_selected_action": [user.pk]})
    assert exported.status_code == 200 and exported["Content-Type"] == "application/json"
    assert "attachment" in exported["Content-Disposition"]
    assert json.loads(exported.content)["conversations"][0]["answers"][0]["question"] == MEALS + "?"

    confirm = client.post(changelist, {"action": "erase_person_data", "_selected_action": [user.pk]})
    assert confirm.status_code == 200 and b"cannot be undone" in confirm.content and b"xavier" in confirm.content
    assert User.objects.filter(pk=user.pk).exists(), "nothing happens before the confirmation"

    done = client.post(
        changelist, {"action": "erase_person_data", "_selected_action": [user.pk], "confirmed": "yes"}, follow=True
    )
    assert b"Erased xavier" in done.content
    assert not User.objects.filter(pk=user.pk).exists() and not Answer.objects.exists()
    assert not Feedback.objects.exists()
    [event] = AuditEvent.objects.filter(action=AuditAction.PERSON_ERASED)
    assert event.actor_name == "admin-a"
