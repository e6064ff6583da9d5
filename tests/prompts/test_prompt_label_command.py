"""``manage.py prompt_label``: the engineer's deployment and rollback, audited as ``cli:<user>``."""

from __future__ import annotations

import getpass
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from prompts.models import EventAction, PromptEvent, PromptLabel
from prompts.services.registry import prompt_current, version_create

pytestmark = pytest.mark.django_db


def test_move_and_roll_back_from_the_command_line() -> None:
    out = StringIO()
    call_command("prompt_label", "answer_strict", "staging", "1", "--note", "try it", stdout=out)
    assert out.getvalue().strip() == "answer_strict@staging -> answer_strict-v1"
    assert prompt_current(prompt_id="answer_strict", label="staging").version == 1
    event = PromptEvent.objects.filter(action=EventAction.LABEL_MOVED, label="staging").get()
    assert (event.actor_name, event.note) == (f"cli:{getpass.getuser()}", "try it")

    call_command("prompt_label", "answer", "staging", "2", stdout=StringIO())
    with pytest.raises(CommandError, match="no earlier version"):
        call_command("prompt_label", "answer", "production", "--rollback", stdout=StringIO())


def test_an_unapproved_version_or_a_missing_argument_is_refused() -> None:
    messages = [dict(m) for m in PromptLabel.objects.get(prompt_id="answer", name="production").version.messages]
    messages[0]["template"] += " Be brief."
    unapproved = version_create(prompt_id="answer", messages=messages, actor=None)
    with pytest.raises(CommandError, match="never approved"):
        call_command("prompt_label", "answer", "production", str(unapproved.version), stdout=StringIO())
    with pytest.raises(CommandError, match="either a VERSION or --rollback"):
        call_command("prompt_label", "answer", "production", stdout=StringIO())
    assert prompt_current(prompt_id="answer").version == 2
