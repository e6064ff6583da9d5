"""The chat and review pages: every form works without JavaScript (a plain POST is redirected to
a page that shows the outcome) and with htmx (a fragment, or an HX-Redirect to that page); an
answer still being written is one partial, whose element ids come from one helper."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from qa.consumers import ChatConsumer
from qa.models import Answer, AnswerStatus, Conversation, Feedback, FeedbackReason, ReviewItem
from qa.pipeline.orchestrator import answer_create
from qa.realtime import answer_dom_ids
from tests.factories import user_create
from tests.helpers import ask
from tests.security.xss_payloads import parse_html

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


@pytest.fixture
def answered(reader: Any, client: Client) -> Answer:
    answer = ask(reader, "What is the hotel limit in London?")
    assert answer.status == AnswerStatus.ANSWERED
    client.force_login(reader)
    return answer


def _page_of(answer: Answer) -> str:
    return reverse("qa:conversation", args=[answer.conversation_id])


def _messages(html: str) -> list[str]:
    """The page's flash messages (base.html), as text."""
    lists = [ul for ul in parse_html(html).iter("ul") if ul.get("class") == "messages"]
    return ["".join(li.itertext()) for ul in lists for li in ul.iter("li")]


# ------------------------------------------------------------------ feedback


def test_the_feedback_forms_post_without_javascript(answered: Answer, client: Client) -> None:
    html = client.get(_page_of(answered)).content.decode()
    feedback = next(e for e in parse_html(html).iter("div") if e.get("id") == f"feedback-{answered.pk}")
    forms = list(feedback.iter("form"))
    assert len(forms) == 2
    for form in forms:
        assert form.get("method") == "post" and form.get("action") == f"/chat/a/{answered.pk}/feedback/"
        assert [i.get("name") for i in form.iter("input") if i.get("type") == "hidden"][0] == "csrfmiddlewaretoken"


def test_feedback_without_javascript_goes_back_to_the_answer_and_thanks(answered: Answer, client: Client) -> None:
    response = client.post(reverse("qa:feedback", args=[answered.pk]), {"helpful": "yes"})
    assert response.status_code == 302
    assert response["Location"] == f"{_page_of(answered)}#answer-{answered.pk}"
    assert Feedback.objects.get(answer=answered).helpful is True
    page = client.get(response["Location"]).content.decode()
    assert _messages(page) == ["Thanks for the feedback."]
    assert "Thanks: marked helpful." in page


def test_feedback_with_htmx_answers_the_fragment(answered: Answer, client: Client) -> None:
    response = client.post(
        reverse("qa:feedback", args=[answered.pk]), {"helpful": "no", "reason": "incorrect"}, headers=HX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    root = parse_html(html)
    fragment = next(e for e in root.iter("div") if e.get("class") == "feedback")
    assert fragment.get("id") == f"feedback-{answered.pk}"
    assert "".join(fragment.itertext()).strip() == "Thanks: reported as “incorrect”. A reviewer will look at it."


def test_a_refused_feedback_is_explained_in_both_ways(answered: Answer, client: Client) -> None:
    url = reverse("qa:feedback", args=[answered.pk])
    plain = client.post(url, {"helpful": "no", "reason": "because"})
    assert plain.status_code == 302
    refusal = f"Unknown reason 'because'; choose one of: {', '.join(FeedbackReason.values)}."
    assert _messages(client.get(plain["Location"]).content.decode()) == [refusal]
    htmx = client.post(url, {"helpful": "no", "reason": "because"}, headers=HX)
    assert htmx.status_code == 200
    alert = next(e for e in parse_html(htmx.content.decode()).iter("p") if e.get("role") == "alert")
    assert alert.text == refusal
    assert not Feedback.objects.exists()


@pytest.mark.parametrize("headers", [{}, HX])
def test_feedback_on_someone_elses_answer_is_not_found(answered: Answer, headers: dict[str, str]) -> None:
    stranger = Client()
    stranger.force_login(user_create(username="stranger"))
    response = stranger.post(reverse("qa:feedback", args=[answered.pk]), {"helpful": "yes"}, headers=headers)
    assert response.status_code == 404


# ------------------------------------------------------------------ conversations


def test_renaming_a_conversation_without_and_with_htmx(answered: Answer, client: Client) -> None:
    url = reverse("qa:conversation-rename", args=[answered.conversation_id])
    plain = client.post(url, {"title": "Hotels"})
    assert plain.status_code == 302 and plain["Location"] == _page_of(answered)
    htmx = client.post(url, {"title": "Hotels in London"}, headers=HX)
    assert htmx.status_code == 200 and htmx["HX-Redirect"] == _page_of(answered)
    assert Conversation.objects.get(pk=answered.conversation_id).title == "Hotels in London"
    refused = client.post(url, {"title": "  "})
    assert _messages(client.get(refused["Location"]).content.decode()) == ["A conversation needs a name."]


@pytest.mark.parametrize(("headers", "status", "header"), [({}, 302, "Location"), (HX, 200, "HX-Redirect")])
def test_deleting_a_conversation_goes_back_to_the_chat(
    answered: Answer, client: Client, headers: dict[str, str], status: int, header: str
) -> None:
    response = client.post(reverse("qa:conversation-delete", args=[answered.conversation_id]), headers=headers)
    assert response.status_code == status and response[header] == reverse("qa:chat")
    assert not Conversation.objects.filter(pk=answered.conversation_id).exists()


# ------------------------------------------------------------------ review


@pytest.fixture
def held_item(staff: Any) -> ReviewItem:
    user, _, _ = staff
    answer = ask(user, "What dose of ibuprofen should I take for my back pain at work?")
    assert answer.status == AnswerStatus.HELD
    return ReviewItem.objects.get(answer=answer)


@pytest.mark.parametrize(("headers", "status", "header"), [({}, 302, "Location"), (HX, 200, "HX-Redirect")])
def test_a_review_decision_goes_back_to_the_queue(
    held_item: ReviewItem, client: Client, headers: dict[str, str], status: int, header: str
) -> None:
    client.force_login(user_create(username="rev", groups=("reviewers", "staff")))
    response = client.post(reverse("qa:review-item", args=[held_item.pk]), {"action": "approve"}, headers=headers)
    assert response.status_code == status and response[header] == reverse("qa:review")
    held_item.answer.refresh_from_db()
    assert held_item.answer.status == AnswerStatus.ANSWERED


@pytest.mark.parametrize(("headers", "status", "header"), [({}, 302, "Location"), (HX, 200, "HX-Redirect")])
def test_a_refused_review_decision_stays_on_the_item_and_says_why(
    held_item: ReviewItem, client: Client, headers: dict[str, str], status: int, header: str
) -> None:
    client.force_login(user_create(username="rev", groups=("reviewers", "staff")))
    url = reverse("qa:review-item", args=[held_item.pk])
    response = client.post(url, {"action": "reject", "note": " "}, headers=headers)
    assert response.status_code == status and response[header] == url
    assert _messages(client.get(url).content.decode()) == [
        "Say why the answer is rejected; the note is shown to the user."
    ]
    held_item.answer.refresh_from_db()
    assert held_item.answer.status == AnswerStatus.HELD


# ------------------------------------------------------------------ the pending answer


def _bubble(html: str, answer_id: int) -> Any:
    dom = answer_dom_ids(answer_id)
    bubble = next(e for e in parse_html(html).iter("div") if e.get("id") == dom.answer)
    return {child.get("id"): child for child in bubble}, bubble


def test_the_page_and_the_socket_render_a_pending_answer_from_one_partial(reader: Any, client: Client) -> None:
    answer = answer_create(user=reader, question="What is the hotel limit in London?")
    dom = answer_dom_ids(answer.pk)
    assert (dom.answer, dom.status, dom.sources, dom.text) == (
        f"answer-{answer.pk}",
        f"answer-{answer.pk}-status",
        f"answer-{answer.pk}-sources",
        f"answer-{answer.pk}-text",
    )
    client.force_login(reader)
    on_page, page_bubble = _bubble(client.get(_page_of(answer)).content.decode(), answer.pk)
    shell = render_to_string("qa/_exchange.html", {"answer": answer, "dom": dom, "oob": True})
    in_shell, shell_bubble = _bubble(shell, answer.pk)
    for children in (on_page, in_shell):
        assert list(children) == [dom.status, dom.sources, dom.text]
        assert children[dom.text].get("class") == "answer-text streaming draft"
    assert page_bubble.get("data-status") == shell_bubble.get("data-status") == "pending"
    assert "".join(on_page[dom.status].itertext()) == "Still writing this answer…"
    assert "".join(in_shell[dom.status].itertext()) == "Searching your documents…"


def test_the_socket_sends_the_pending_answers_pieces_escaped() -> None:
    sent: list[str] = []
    consumer = ChatConsumer()

    async def send(text_data: str) -> None:
        sent.append(text_data)

    consumer.send = send  # type: ignore[method-assign]
    hostile = "<img src=x onerror=alert(1)>"
    async_to_sync(consumer.qa_status)({"answer_id": 7, "message": hostile})
    async_to_sync(consumer.qa_reset)({"answer_id": 7, "message": hostile})
    async_to_sync(consumer.qa_failed)({"answer_id": 7, "message": hostile})
    async_to_sync(consumer.qa_token)({"answer_id": 7, "text": hostile})
    escaped = "&lt;img src=x onerror=alert(1)&gt;"
    assert sent == [
        f'<div id="answer-7-status" class="answer-status" hx-swap-oob="true">'
        f'<span class="spinner" aria-hidden="true"></span>{escaped}</div>',
        f'<div id="answer-7-text" class="answer-text streaming draft" hx-swap-oob="true"></div>'
        f'<div id="answer-7-status" class="answer-status" hx-swap-oob="true">{escaped}</div>',
        f'<div id="answer-7-status" class="answer-status error" hx-swap-oob="true" role="alert">{escaped}</div>',
        f'<span hx-swap-oob="beforeend:#answer-7-text">{escaped}</span>',
    ]
