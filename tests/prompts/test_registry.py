"""The prompt registry: the library's files loaded as immutable versions on migrate, labels
moved and rolled back with an audit record each, and the answer pipeline using (and recording)
the version a label points at."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import override_settings

from core.errors import ApplicationError
from prompts.contracts import PromptTemplate, TemplateError, key_parse, placeholders
from prompts.models import EventAction, ImmutableRecord, PromptEvent, PromptLabel, PromptVersion, VersionSource
from prompts.services.registry import (
    LIBRARY_DIR,
    LibraryError,
    label_move,
    label_rollback,
    library_production,
    library_read,
    library_sync,
    prompt_by_key,
    prompt_current,
    prompts_current,
    template_problems,
    version_create,
    version_file_text,
)
from qa.models import Interaction
from qa.pipeline.orchestrator import answer_create, answer_run
from tests.helpers import Recorder

pytestmark = pytest.mark.django_db

SYSTEM = "Answer from the passages only and cite them like [1]. Be brief."


def _answer_messages(system: str = SYSTEM) -> list[dict[str, str]]:
    return [
        {"role": "system", "template": system},
        {"role": "user", "template": "<passages>\n${passages}\n</passages>\n\nQuestion: ${question}"},
    ]


def test_migrate_loads_every_library_version_and_labels_production() -> None:
    library = library_read()
    assert {"answer", "answer_strict", "judge", "wording"} <= set(library)
    for prompt in library.values():
        for template in prompt.versions:
            row = PromptVersion.objects.get(prompt_id=prompt.prompt_id, version=template.version)
            assert row.content_hash == template.content_hash and row.source == VersionSource.FILE
        label = PromptLabel.objects.get(prompt_id=prompt.prompt_id, name="production")
        assert label.version.version == prompt.production
    assert PromptEvent.objects.filter(action=EventAction.VERSION_LOADED, prompt_id="answer", version=2).exists()
    # Loading again changes nothing.
    assert library_sync().loaded == [] and library_sync().labelled == []


def test_a_saved_version_cannot_change_through_the_orm_or_sql() -> None:
    row = PromptVersion.objects.get(prompt_id="answer", version=2)
    row.note = "edited"
    with pytest.raises(ImmutableRecord):
        row.save()
    with pytest.raises(ImmutableRecord):
        row.delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        PromptVersion.objects.filter(pk=row.pk).update(messages=[{"role": "system", "template": "obey"}])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM prompts_promptversion WHERE id = %s", [row.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        PromptEvent.objects.all().update(note="rewritten history")
    row.refresh_from_db()
    assert row.note != "edited" and PromptVersion.objects.filter(pk=row.pk).exists()


def test_an_edited_released_version_file_is_refused(tmp_path: Path) -> None:
    library = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, library)
    path = library / "answer" / "v2.toml"
    path.write_text(path.read_text().replace("Be concise.", "Be verbose."))
    with pytest.raises(LibraryError, match="answer-v2 changed since it was loaded.*add v3.toml"):
        library_sync(directory=library)


def test_a_new_version_file_is_loaded_without_moving_production(tmp_path: Path) -> None:
    library = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, library)
    text = (library / "answer" / "v2.toml").read_text().replace("version = 2", "version = 3")
    (library / "answer" / "v3.toml").write_text(text.replace("Be concise.", "Be concise and plain."))
    report = library_sync(directory=library)
    assert report.loaded == ["answer-v3"] and report.labelled == []
    assert prompt_current(prompt_id="answer").version == 2


def test_library_files_are_validated(tmp_path: Path) -> None:
    library = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, library)
    path = library / "judge" / "v1.toml"
    path.write_text(path.read_text().replace("${claims}", "${claim_list}"))
    with pytest.raises(LibraryError, match=r"unknown variable \$\{claim_list\}"):
        library_read(directory=library)


def test_labels_move_and_roll_back_with_an_audit_record_each(staff) -> None:
    user = staff[0]
    v3 = version_create(prompt_id="answer", messages=_answer_messages(), actor=user, note="shorter")
    assert v3.version == 3 and v3.source == VersionSource.PROPOSAL and v3.author_name == user.username
    label_move(prompt_id="answer", label="production", version=3, actor=user, note="deploy")
    assert prompt_current(prompt_id="answer").key == "answer-v3"
    label_rollback(prompt_id="answer", actor=user)
    assert prompt_current(prompt_id="answer").key == "answer-v2"
    moves = PromptEvent.objects.filter(action=EventAction.LABEL_MOVED, prompt_id="answer", label="production")
    latest = list(moves[:2])
    assert [(e.from_version, e.version, e.actor_name) for e in latest] == [(3, 2, user.username), (2, 3, user.username)]
    assert "rollback" in latest[0].note
    # Any label name an operator types; staging is independent of production.
    label_move(prompt_id="answer", label="Staging", version=3, actor=user)
    assert prompt_current(prompt_id="answer", label="staging").version == 3
    assert prompt_current(prompt_id="answer").version == 2
    with pytest.raises(ApplicationError, match="no version 9"):
        label_move(prompt_id="answer", label="production", version=9, actor=user)
    with pytest.raises(ApplicationError, match="A label is"):
        label_move(prompt_id="answer", label="prod uction!", version=3, actor=user)


def test_a_version_with_a_broken_template_is_never_created(staff) -> None:
    with pytest.raises(ApplicationError, match=r"unknown variable \$\{context\}"):
        version_create(
            prompt_id="answer", actor=staff[0],
            messages=[{"role": "system", "template": SYSTEM}, {"role": "user", "template": "${context} ${question}"}],
        )  # fmt: skip
    with pytest.raises(ApplicationError, match=r"\$\{passages\} is used by no message"):
        version_create(
            prompt_id="answer", actor=staff[0],
            messages=[{"role": "system", "template": SYSTEM}, {"role": "user", "template": "${question}"}],
        )  # fmt: skip
    with pytest.raises(ApplicationError, match="entries must be exactly"):
        version_create(prompt_id="wording", actor=staff[0], messages=[{"role": "decline_model", "template": "No."}])
    assert PromptVersion.objects.filter(prompt_id="answer").count() == 1


def test_template_checks() -> None:
    assert placeholders("Q: ${question} $passages $$5") == ["question", "passages"]
    with pytest.raises(TemplateError, match="lone"):
        placeholders("costs $ 5")
    assert template_problems(kind="chat", messages=[{"role": "narrator", "template": "${question}"}],
                             variables=["question"]) == ["narrator: the role must be one of system, user, assistant"]  # fmt: skip
    assert key_parse("answer_strict-v1") == ("answer_strict", 1)
    with pytest.raises(ValueError, match="not a prompt key"):
        key_parse("answer-2")
    template = library_production("wording")
    assert template.text("decline_unmentioned", names="`json.fetch`") == (
        "The documents I searched never mention `json.fetch`."
    )
    with pytest.raises(TemplateError, match="no value for"):
        template.text("decline_unmentioned")


def test_the_answer_uses_and_records_the_production_version(reader, staff) -> None:
    answer = answer_run(answer_id=answer_create(user=reader, question="What is the hotel limit in London?").pk,
                        emit=Recorder())  # fmt: skip
    assert answer.prompt_key == "answer-v2" and not answer.prompt_fallback_used
    interaction = Interaction.objects.get(answer=answer)
    assert interaction.prompt_key == "answer-v2"
    system = interaction.prompt["messages"][0]["content"]
    assert system == library_production("answer").template_of("system")

    # Moving the label is the deployment: the next question uses the new version, in its prompt too.
    version_create(prompt_id="answer", messages=_answer_messages(SYSTEM), actor=staff[0])
    label_move(prompt_id="answer", label="production", version=3, actor=staff[0])
    answer = answer_run(answer_id=answer_create(user=reader, question="How much are meals covered per day while travelling?").pk,
                        emit=Recorder())  # fmt: skip
    interaction = Interaction.objects.get(answer=answer)
    assert answer.prompt_key == "answer-v3" and interaction.prompt_key == "answer-v3"
    assert interaction.prompt["messages"][0]["content"] == SYSTEM
    # The cache is scoped by the prompt version: v2's cached answer is not reused under v3.
    again = answer_run(answer_id=answer_create(user=reader, question="What is the hotel limit in London?").pk,
                       emit=Recorder())  # fmt: skip
    assert again.reused_from_id is None and again.prompt_key == "answer-v3"
    assert Interaction.objects.filter(answer=again, prompt_key="answer-v3").exists()


def test_wording_comes_from_the_registry(reader, staff) -> None:
    wording = library_production("wording")
    messages = [
        {"role": m.role, "template": "Nothing in your documents matches this question." if m.role == "decline_no_match"
         else ("Your documents never mention ${names}, so I cannot answer." if m.role == "decline_unmentioned"
               else m.template)}
        for m in wording.messages
    ]  # fmt: skip
    version_create(prompt_id="wording", messages=messages, actor=staff[0])
    label_move(prompt_id="wording", label="production", version=2, actor=staff[0])
    answer = answer_run(answer_id=answer_create(user=reader, question="What is the hotel limit set by travel_policy.fetch_limits() for London?").pk,
                        emit=Recorder())  # fmt: skip
    assert answer.decline_reason == "Your documents never mention `travel_policy.fetch_limits`, so I cannot answer."


def test_a_prompt_template_renders_values_without_reading_attributes() -> None:
    template = PromptTemplate(prompt_id="t", version=1, messages=(), variables=("question",))
    assert template.render() == []
    # ${question.__class__} is not a placeholder string.Template knows: it stays literal text at
    # most, never an attribute lookup.
    with pytest.raises(TemplateError):
        placeholders("${question.__class__}")


def test_deploying_what_is_live_moves_nothing_and_rollback_still_returns(staff) -> None:
    user = staff[0]
    version_create(prompt_id="answer", messages=_answer_messages(), actor=user)
    label_move(prompt_id="answer", label="production", version=3, actor=user)
    with pytest.raises(ApplicationError, match="already points at version 3"):
        label_move(prompt_id="answer", label="production", version=3, actor=user)  # a second click on Deploy
    label_rollback(prompt_id="answer", label="Production", actor=user)  # typed in capitals
    assert prompt_current(prompt_id="answer").version == 2


def test_a_version_approved_in_the_browser_is_exported_as_a_file_and_its_number_is_kept(staff, tmp_path) -> None:
    odd = SYSTEM + " Quote 'exactly' and keep $$5 as it is.\tTabs too."
    version_create(prompt_id="answer", messages=_answer_messages(odd), actor=staff[0], note="from the browser")
    library = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, library)
    # An engineer's own v3 file would collide with the browser's v3: a clear error, not a silent shadow.
    text = (library / "answer" / "v2.toml").read_text().replace("version = 2", "version = 3")
    (library / "answer" / "v3.toml").write_text(text)
    with pytest.raises(
        LibraryError, match=r"taken by a version approved in the browser.*prompt_export answer 3.*v4\.toml"
    ):
        library_sync(directory=library)
    # The export writes the browser's version as the file: migrate then recognises it.
    (library / "answer" / "v3.toml").write_text(version_file_text(prompt_id="answer", version=3))
    assert library_sync(directory=library).loaded == []
    assert library_read(directory=library)["answer"].version(3).template_of("system") == odd


def test_a_staging_installation_serves_the_staging_label_and_production_for_the_rest(reader, staff) -> None:
    version_create(prompt_id="answer", messages=_answer_messages(), actor=staff[0])
    label_move(prompt_id="answer", label="staging", version=3, actor=staff[0])
    with override_settings(PROMPT_LABEL="staging"):
        answer = answer_run(answer_id=answer_create(user=reader, question="What is the hotel limit in London?").pk,
                            emit=Recorder())  # fmt: skip
        assert answer.prompt_key == "answer-v3"
        # No staging label on the judge or the wording: their production versions.
        assert prompts_current(label="staging")["judge"].key == "judge-v1"
    assert prompt_current(prompt_id="answer").key == "answer-v2"


def test_the_judge_uses_the_version_chosen_with_the_answer(reader, staff) -> None:
    from prompts.services.selection import PromptChoice
    from providers.registry import embedding_provider_default
    from qa.checks.verification import EvidenceVerifier, JudgeVerifier
    from tests.helpers import JudgeServer
    from tests.qa.fakes import ScriptedProvider

    judge_v1 = library_production("judge")
    messages = [{"role": m.role, "template": "Be strict. " + m.template} for m in judge_v1.messages]
    version_create(prompt_id="judge", messages=messages, actor=staff[0])
    chosen = PromptChoice(templates={**prompts_current(), "judge": prompt_by_key(key="judge-v2")})
    server = JudgeServer('{"scores": [[1.0]]}')
    try:
        verifier = JudgeVerifier(url=server.url, model="judge-1", api_key="",
                                 fallback=EvidenceVerifier(embedder=embedding_provider_default()))  # fmt: skip
        answer = answer_run(
            answer_id=answer_create(user=reader, question="What is the hotel limit in London?").pk, emit=Recorder(),
            providers=[ScriptedProvider("In London the limit is 260 euros per night [1].")], verifier=verifier,
            prompts=chosen,
        )  # fmt: skip
    finally:
        server.close()
    # Production still says judge-v1; this answer was chosen judge-v2, and its judge call says so.
    assert prompt_current(prompt_id="judge").key == "judge-v1"
    call = Interaction.objects.get(answer=answer, provider="judge")
    assert call.prompt_key == "judge-v2" and server.prompts[0].startswith("Be strict. ")


def test_the_worker_reads_the_chosen_versions_in_one_query(django_assert_num_queries) -> None:
    from prompts.services.selection import PromptChoice

    travelled = PromptChoice(templates=prompts_current()).as_dict()
    with django_assert_num_queries(1):
        again = PromptChoice.from_dict(travelled)
    assert {p: t.key for p, t in again.templates.items()} == travelled["keys"]
