"""Stored XSS in answer rendering (issue #10, finding 1): every hostile answer text of the corpus
in tests/security/xss_payloads.py comes out inert through every path that shows answer text,
parsed with a real HTML parser: the rendering function, the chat page, the websocket's final
fragment, cached, curated and precomputed answers, the review item page, triage, the admin and
the REST API."""

from __future__ import annotations

import json
import time
from xml.etree import ElementTree  # noqa: S405 (reads html5lib's tree; parses nothing as XML)

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from core.text import citations_of, strip_citations
from ingestion.models import Chunk
from qa.consumers import ChatConsumer
from qa.models import (
    Answer,
    AnswerStatus,
    Citation,
    Conversation,
    Feedback,
    FeedbackReason,
    ReusableAnswer,
    ReuseOrigin,
    ReviewItem,
    ReviewReason,
    ReviewState,
    TriageState,
)
from qa.presenters import answer_payload
from qa.realtime import user_group
from qa.review.queue import review_approve
from qa.services.rendering import answer_html
from tests.factories import collection_create, document_ingest, user_create
from tests.helpers import HANDBOOK
from tests.security.xss_payloads import (
    HAND_WRITTEN,
    PAYLOADS,
    REPORTED,
    STORABLE_PAYLOADS,
    fragment_problems,
    has_class,
    page_problems,
    parse_html,
)

URLS = {1: "/chat/a/7/source/1/", 2: "/chat/a/7/source/2/"}


def _cite_links(markup: str) -> list[ElementTree.Element]:
    return [e for e in parse_html(markup).iter("a") if has_class(e, "cite")]


# --------------------------------------------------------------------------- the function


def test_the_corpus_is_large_and_varied() -> None:
    assert len(PAYLOADS) >= 200
    for needle in ("javascript:", "data:", "vbscript:", "<svg", "<math", "<style", "<iframe", "&#91;1&#93;",
                   "<!--", "<![CDATA[", "[1]: ", "<javascript:", REPORTED):  # fmt: skip
        assert any(needle in p for p in PAYLOADS), needle


def test_the_reported_payload_comes_out_inert() -> None:
    # Before the fix: '<a class="<a class="cite" ...>[1]</a> <img src=x onerror=alert(1)>">x</a>',
    # a live img with onerror (the [1] inside the attribute value was rewritten into a link).
    html = answer_html(text=REPORTED, citation_urls=URLS)
    assert fragment_problems(html, where="reported") == []
    root = parse_html(html)
    assert not list(root.iter("img"))
    assert all(not name.startswith("on") for e in root.iter() for name in e.attrib)


@pytest.mark.parametrize("payload", PAYLOADS, ids=[f"p{i:03d}" for i in range(len(PAYLOADS))])
def test_every_payload_renders_inert(payload: str) -> None:
    assert fragment_problems(answer_html(text=payload, citation_urls=URLS), where=payload) == []


def test_citation_links_go_to_our_source_viewer_only() -> None:
    html = answer_html(
        text="One [1]. Two [2]. Missing [7]. Bad [3]. Worse [4].",
        citation_urls={**URLS, 3: "javascript:alert(1)", 4: "//evil.example/x"},
    )
    links = _cite_links(html)
    assert [(e.get("data-n"), e.get("href")) for e in links] == [("1", URLS[1]), ("2", URLS[2])]
    assert "[7]" not in html and "evil" not in html and "javascript" not in html
    assert all(e.get("rel") == "noopener noreferrer nofollow" for e in parse_html(html).iter("a"))


def test_a_marker_inside_code_or_an_attribute_is_not_a_link() -> None:
    html = answer_html(text='`[1]` and <span title="[2]">x</span> and [1]', citation_urls=URLS)
    assert [e.get("data-n") for e in _cite_links(html)] == ["1"]
    assert "<code>[1]</code>" in html


def test_an_author_link_cannot_pass_for_a_citation_with_another_url() -> None:
    html = answer_html(
        text="[see [1]](https://elsewhere.example) and [1]\n\n[1]: https://x.example", citation_urls=URLS
    )
    assert all(e.get("href") == URLS[1] for e in _cite_links(html))
    assert len(_cite_links(html)) == 2, "a reference definition does not turn [1] into the author's link"


@pytest.mark.parametrize("marker", ["[1]", "&#91;1&#93;", "&#091;1&#093;", "&#x5b;1&#x5D;", "&lsqb;1&rsqb;",
                                    "&lbrack;1&rbrack;"])  # fmt: skip
def test_verification_and_rendering_read_the_same_citation_markers(marker: str) -> None:
    """``&#91;1&#93;`` used to pass strip_citations (so verification never checked it) and still
    render as a citation link; one pattern now serves both."""
    text = f"Hotels cost 260 euros {marker}."
    assert citations_of(text) == [1]
    assert strip_citations(text) == "Hotels cost 260 euros."
    assert [e.get("data-n") for e in _cite_links(answer_html(text=text, citation_urls=URLS))] == ["1"]


@pytest.mark.parametrize("marker", ["&#91;&#49;&#93;", "\\[1\\]", "[1<!-- -->]", "[&#49;]"])
def test_markers_neither_reader_recognises_are_never_links(marker: str) -> None:
    text = f"Hotels cost 260 euros {marker}."
    assert citations_of(text) == []
    assert _cite_links(answer_html(text=text, citation_urls=URLS)) == []


# --------------------------------------------------------------------------- every path


@pytest.fixture
def corpus(db):
    """Every payload stored as an answer (and as its question, feedback comment and verification
    sentence) in a reader's conversations, each with citation [1] to a real passage, a review
    item and a thumbs-down in triage."""
    reader = user_create(username="xss-reader", groups=("xss-readers",))
    reviewer = user_create(username="xss-reviewer", groups=("reviewers", "xss-readers"))
    collection = collection_create(name="XSS handbook", groups=("xss-readers",))
    document = document_ingest(collection, HANDBOOK, "travel.md")
    chunk = Chunk.objects.filter(document=document).first()
    assert chunk is not None
    citation = {"n": 1, "chunk_id": chunk.pk, "document_id": document.pk, "title": "Travel <b>Policy</b>",
                "source_name": "travel.md", "section": "Hotels", "page": None, "quote": "Hotel stays [1]"}  # fmt: skip
    conversations: list[Conversation] = []
    answers: list[Answer] = []
    per_conversation = 80
    for start in range(0, len(STORABLE_PAYLOADS), per_conversation):
        conversation = Conversation.objects.create(user=reader, title=f"xss {start} {STORABLE_PAYLOADS[start]}"[:200])
        conversations.append(conversation)
        for i, payload in enumerate(STORABLE_PAYLOADS[start : start + per_conversation], start=start):
            answers.append(
                Answer(
                    conversation=conversation,
                    question=f"q{i} {payload}",
                    status=AnswerStatus.ANSWERED,
                    text=f"{payload} [1]",
                    confidence=0.9,
                    confidence_level="high",
                    confidence_reason=payload,
                    verification={
                        "claims": 1,
                        "sentences": [
                            {
                                "text": payload,
                                "citations": [1],
                                "original_citations": [1],
                                "claim": True,
                                "support": 0.9,
                                "action": "kept",
                                "issues": [payload],
                            }
                        ],
                    },
                )  # fmt: skip
            )
    Answer.objects.bulk_create(answers)
    Citation.objects.bulk_create(Citation(answer=a, **citation) for a in answers)
    ReviewItem.objects.bulk_create(
        ReviewItem(answer=a, reason=ReviewReason.LOW_SUPPORT, detail=a.text, held=False, state=ReviewState.PENDING)
        for a in answers
    )  # fmt: skip
    Feedback.objects.bulk_create(
        # Reasons in turn: the triage page lists 200 at a time, so each reason's list holds all of its.
        Feedback(answer=a, user=reader, helpful=False, reason=FeedbackReason.values[i % len(FeedbackReason.values)],
                 comment=a.text, triage_state=TriageState.OPEN)
        for i, a in enumerate(answers)
    )  # fmt: skip
    return {"reader": reader, "reviewer": reviewer, "conversations": conversations, "answers": answers,
            "citation": citation, "collection": collection}  # fmt: skip


def _answer_text(element: ElementTree.Element) -> bool:
    return has_class(element, "answer-text")


@pytest.mark.django_db
def test_chat_pages_show_every_payload_inert(corpus, client) -> None:
    client.force_login(corpus["reader"])
    for conversation in corpus["conversations"]:
        response = client.get(reverse("qa:conversation", args=[conversation.pk]))
        assert response.status_code == 200
        page = response.content.decode()
        assert page_problems(page, is_answer=_answer_text, where=f"chat {conversation.pk}") == []
        rendered = [e for e in parse_html(page).iter() if _answer_text(e)]
        assert len(rendered) == conversation.answers.count()


@pytest.mark.django_db
def test_cached_curated_and_precomputed_answers_show_every_payload_inert(corpus, client) -> None:
    """Reused answers: the entry's text (and its original question, shown in the badge) is what
    the next reader sees. The rows are written as the reuse service writes them."""
    reader = corpus["reader"]
    client.force_login(reader)
    for origin in ReuseOrigin.values:
        conversation = Conversation.objects.create(user=reader, title=f"reused {origin}")
        for i, payload in enumerate(STORABLE_PAYLOADS):
            entry = ReusableAnswer.objects.create(
                origin=origin, question=payload, embedding=[0.0] * 383 + [1.0], text=f"{payload} [1]",
                citations=[corpus["citation"]], collection_ids=[corpus["collection"].pk],
            )  # fmt: skip
            answer = Answer.objects.create(conversation=conversation, question=f"r{i}", status=AnswerStatus.ANSWERED,
                                           text=entry.text, reused_from=entry, provider="reuse")  # fmt: skip
            Citation.objects.create(answer=answer, **corpus["citation"])
        page = client.get(reverse("qa:conversation", args=[conversation.pk])).content.decode()
        assert page_problems(page, is_answer=_answer_text, where=f"reused {origin}") == []
        badges = [e for e in parse_html(page).iter("p") if has_class(e, "reused")]
        assert len(badges) == len(STORABLE_PAYLOADS)


@pytest.mark.django_db
def test_a_reviewers_edit_served_as_a_curated_answer_is_inert(db, client, django_capture_on_commit_callbacks) -> None:
    """The reported path end to end: a reviewer's "edit and approve" text becomes a curated
    answer that another reader gets for the same question."""
    from qa.pipeline.orchestrator import answer_create, answer_run
    from tests.helpers import WELLNESS
    from tests.qa.fakes import ScriptedProvider

    user = user_create(username="asker", groups=("staff",))
    colleague = user_create(username="colleague", groups=("staff",))
    reviewer = user_create(username="rev", groups=("reviewers", "staff"))
    collection = collection_create(name="Staff handbook", groups=("staff",))
    document_ingest(collection, WELLNESS, "wellness.md")
    question = "What dose of ibuprofen should I take for my back pain at work?"
    held = answer_run(answer_id=answer_create(user=user, question=question).pk, emit=lambda t, p: None)
    assert held.status == AnswerStatus.HELD
    with django_capture_on_commit_callbacks(execute=True):
        review_approve(item_id=ReviewItem.objects.get(answer=held).pk, reviewer=reviewer,
                       text=f"Ask the company nurse what dose to take [1]. {REPORTED}")  # fmt: skip
    model = ScriptedProvider("should not be called")
    reused = answer_run(answer_id=answer_create(user=colleague, question=question).pk, emit=lambda t, p: None,
                        providers=[model])  # fmt: skip
    assert reused.reused_from is not None and reused.reused_from.origin == ReuseOrigin.CURATED
    assert not model.requests
    client.force_login(colleague)
    page = client.get(reverse("qa:conversation", args=[reused.conversation_id])).content.decode()
    assert page_problems(page, is_answer=_answer_text, where="curated") == []
    assert "onerror" not in page.split('class="answer-text rendered"', 1)[1].split("</div>", 1)[0]


@pytest.mark.django_db(transaction=True)
async def test_the_websockets_fragments_are_inert(corpus) -> None:
    """The chat consumer turns the pipeline's events into out-of-band fragments the page swaps
    in: streamed words, status lines and failures are escaped text; the final answer
    (answer_payload) is the sanitised rendering."""
    reader = corpus["reader"]
    answers = corpus["answers"]
    communicator = WebsocketCommunicator(ChatConsumer.as_asgi(), "/ws/chat/")
    communicator.scope["user"] = reader
    connected, _ = await communicator.connect()
    assert connected
    layer = get_channel_layer()
    group = user_group(reader.pk)
    try:
        payloads = await sync_to_async(
            lambda: [answer_payload(Answer.objects.prefetch_related("citations").get(pk=a.pk)) for a in answers]
        )()
        for payload, text in zip(payloads, STORABLE_PAYLOADS, strict=True):
            await layer.group_send(group, {"type": "qa.final", "answer_id": payload["id"], **payload})
            fragment = await communicator.receive_from(timeout=10)
            assert page_problems(fragment, is_answer=_answer_text, where=f"ws final {payload['id']}") == []
            for event in ("qa.token", "qa.status", "qa.failed"):
                await layer.group_send(
                    group, {"type": event, "answer_id": payload["id"], "text": text, "message": text}
                )
                fragment = await communicator.receive_from(timeout=10)
                body = parse_html(fragment).find("body")
                assert body is not None and len(body) == 1, (event, fragment)
                words = [e for e in body[0] if e.tag != "span" or e.get("class") != "spinner"]
                assert words == [], f"{event}: {text!r} became elements"
                assert "".join(body[0].itertext()) == text.replace("\r\n", "\n").replace("\r", "\n")
    finally:
        await communicator.disconnect()


@pytest.mark.django_db
def test_review_item_pages_show_every_payload_inert(corpus, client) -> None:
    client.force_login(corpus["reviewer"])
    started = time.perf_counter()
    for item in ReviewItem.objects.filter(answer__in=corpus["answers"]):
        response = client.get(reverse("qa:review-item", args=[item.pk]))
        assert response.status_code == 200, item.pk
        page = response.content.decode()
        problems = page_problems(
            page, is_answer=lambda e: e.get("id") == "review-answer-text" or e.tag == "td", where=f"review {item.pk}"
        )
        assert problems == []
        # The edit box holds the text as text: nothing in it closed the textarea early.
        edit_box = [e for e in parse_html(page).iter("textarea") if e.get("id") == "edit-text"]
        assert len(edit_box) == 1 and (edit_box[0].text or "") == item.answer.text
    assert time.perf_counter() - started < 120
    queue = client.get(reverse("qa:review"), {"state": "pending"}).content.decode()
    assert page_problems(queue, is_answer=lambda e: e.tag == "td", where="review queue") == []


def _cell_without_our_form(element: ElementTree.Element) -> bool:
    """A table cell of user and answer text (the action cell holds the page's own form)."""
    return element.tag == "td" and element.find(".//form") is None


@pytest.mark.django_db
def test_the_triage_page_shows_every_payload_inert(corpus, client) -> None:
    client.force_login(corpus["reviewer"])
    listed = 0
    for reason in FeedbackReason.values:
        page = client.get(reverse("qa:triage"), {"state": "open", "reason": reason}).content.decode()
        listed += len([e for e in parse_html(page).iter("tr") if has_class(e, "triage-row")])
        problems = page_problems(page, is_answer=_cell_without_our_form, where=f"triage {reason}")
        assert problems == []
    assert listed == len(corpus["answers"])


@pytest.mark.django_db
def _admin_icon(element: ElementTree.Element) -> bool:
    """The admin's own yes/no icons beside boolean fields (static files, not answer content)."""
    return element.tag == "img" and (element.get("src") or "").startswith("/static/admin/img/")


@pytest.mark.django_db
def test_admin_pages_show_every_payload_inert(corpus, client) -> None:
    admin = user_create(username="xss-admin", superuser=True)
    client.force_login(admin)

    def readonly(element: ElementTree.Element) -> bool:
        # Editable fields' textareas hold text only; a break-out would show in the page-wide check.
        return has_class(element, "readonly") or element.tag in ("td", "th")

    # Every payload on the answer's change page; the review item's page shows the same text
    # (answer_text, verification) and is checked for the hand-written payloads (an admin page
    # takes ~0.1 s, and the generated payloads only vary those).
    hand_written = {p for p in HAND_WRITTEN if "\x00" not in p}
    items = {i.answer_id: i.pk for i in ReviewItem.objects.filter(answer__in=corpus["answers"])}
    for answer, payload in zip(corpus["answers"], STORABLE_PAYLOADS, strict=True):
        urls = [reverse("admin:qa_answer_change", args=[answer.pk])]
        if payload in hand_written:
            urls.append(reverse("admin:qa_reviewitem_change", args=[items[answer.pk]]))
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            assert page_problems(response.content.decode(), is_answer=readonly, where=url, trusted=_admin_icon) == []

    def field_cell(element: ElementTree.Element) -> bool:
        return element.tag in ("td", "th") and any(c.startswith("field-") for c in (element.get("class") or "").split())

    for name in ("qa_answer", "qa_reviewitem", "qa_feedback"):
        listing = client.get(reverse(f"admin:{name}_changelist"), {"all": ""}).content.decode()
        assert page_problems(listing, is_answer=field_cell, where=name, trusted=_admin_icon) == []


@pytest.mark.django_db
def test_the_api_gives_plain_text_and_sanitised_html(corpus, client) -> None:
    """``answer`` is the stored text as a JSON string: plain text, which a client shows as text.
    The API carries no rendered HTML."""
    client.force_login(corpus["reader"])
    stored = {a.pk: a.text for a in corpus["answers"]}
    seen = 0
    for conversation in corpus["conversations"]:
        response = client.get(reverse("api-conversation-detail", args=[conversation.pk]))
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/json")
        assert response["X-Content-Type-Options"] == "nosniff"
        for item in json.loads(response.content):
            assert item["answer"] == stored[item["id"]]
            assert not any(isinstance(v, str) and '<a class="cite"' in v for v in item.values())
            seen += 1
    assert seen == len(STORABLE_PAYLOADS)
