"""PII detection, scrubbing and restoring (core/pii.py) with the real spaCy model and Presidio.

No database: the module is the bottom layer. The network is blocked by tests/conftest.py, so a
download attempt anywhere in loading (spaCy model, public-suffix list) fails these tests.
"""

from __future__ import annotations

import threading

import pytest
from django.conf import settings

from core.pii import (
    PII_TYPES_DEFAULT,
    PLACEHOLDER_RE,
    PiiType,
    PlaceholderRestorer,
    pii_analyzer,
    pii_cache_clear,
    pii_detect,
    pii_restore,
    pii_scrub,
    pii_types_enabled,
)

QUESTION = "Hi, I am Priya Raghunathan (priya.r@example.com). Why was my card 4111 1111 1111 1111 charged twice?"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    pii_cache_clear()


def test_a_question_with_a_name_an_email_and_a_card_is_sent_as_placeholders_and_restored_exactly() -> None:
    scrubbed = pii_scrub(texts=[QUESTION], enabled=PII_TYPES_DEFAULT)

    (sent,) = scrubbed.texts
    assert sent == "Hi, I am <PERSON_1> (<EMAIL_1>). Why was my card <CREDIT_CARD_1> charged twice?"
    for value in ("Priya", "Raghunathan", "priya.r@example.com", "4111"):
        assert value not in sent
    assert dict(scrubbed.found) == {PiiType.PERSON: 1, PiiType.EMAIL: 1, PiiType.CREDIT_CARD: 1}
    assert pii_restore(text=sent, placeholders=scrubbed.placeholders.mapping) == QUESTION


def test_the_same_person_in_the_question_and_a_passage_gets_the_same_placeholder() -> None:
    scrubbed = pii_scrub(
        texts=[
            "What did Maria Garcia decide about the travel policy?",
            "Minutes of 3 March: Maria Garcia approved the new travel policy; Tom Baker objected.",
        ],
        enabled=PII_TYPES_DEFAULT,
    )

    question, passage = scrubbed.texts
    assert question == "What did <PERSON_1> decide about the travel policy?"
    assert passage == "Minutes of 3 March: <PERSON_1> approved the new travel policy; <PERSON_2> objected."
    assert dict(scrubbed.placeholders.mapping) == {"<PERSON_1>": "Maria Garcia", "<PERSON_2>": "Tom Baker"}


def test_a_value_the_model_misses_in_one_text_is_scrubbed_where_it_was_found_elsewhere() -> None:
    # The small NER model does not tag every occurrence; a value found once is replaced everywhere.
    scrubbed = pii_scrub(
        texts=["Priya Raghunathan approved it.", "Ask Priya Raghunathan's manager."], enabled=PII_TYPES_DEFAULT
    )

    assert scrubbed.texts == ("<PERSON_1> approved it.", "Ask <PERSON_1>'s manager.")


def test_numbering_continues_across_calls_of_one_request_with_known() -> None:
    first = pii_scrub(texts=["Please write to anna.berg@example.com about it."], enabled=PII_TYPES_DEFAULT)
    second = pii_scrub(
        texts=["Copy ola.nordmann@example.org and anna.berg@example.com."],
        enabled=PII_TYPES_DEFAULT,
        known=first.placeholders,
    )

    assert second.texts == ("Copy <EMAIL_2> and <EMAIL_1>.",)
    assert dict(second.placeholders.mapping) == {
        "<EMAIL_1>": "anna.berg@example.com",
        "<EMAIL_2>": "ola.nordmann@example.org",
    }
    assert dict(second.found) == {PiiType.EMAIL: 2}


def test_a_known_value_is_scrubbed_even_where_the_detector_would_not_find_it() -> None:
    # An earlier call of the request found the name; a later text repeats it in lower case context.
    first = pii_scrub(texts=["Zainab Okafor wrote the report."], enabled=PII_TYPES_DEFAULT)
    second = pii_scrub(texts=["ok, zainab: Zainab Okafor."], enabled=PII_TYPES_DEFAULT, known=first.placeholders)

    assert second.texts == ("ok, zainab: <PERSON_1>.",)


def test_text_without_personal_data_passes_unchanged() -> None:
    texts = [
        "Upgrade PostgreSQL to 16.2 before 2025-01-31; the licence costs $4,500.00 a year.",
        "Call get_user_name() in accounts/services.py, version 3.8.0, build 20241130.4.",
        "The Paris and Berlin offices close on 24 December.",
        "Use std::vector<int> and Foo::bar(); the job runs at 12:30:45; MAC 00:1A:2B:3C:4D:5E is blocked.",
        "Python 3.11.7, ISBN 978-3-16-148410-0, ref 2024-11-30-0001, total 1,234,567.89 EUR.",
    ]

    scrubbed = pii_scrub(texts=texts, enabled=PII_TYPES_DEFAULT)

    assert scrubbed.texts == tuple(texts)
    assert dict(scrubbed.placeholders.mapping) == {}
    assert dict(scrubbed.found) == {}


def test_phones_ibans_and_ip_addresses_are_scrubbed_and_checksums_matter() -> None:
    text = (
        "Call +44 20 7946 0958 or (415) 555-0134; pay DE89 3704 0044 0532 0130 00 "
        "(not DE00 3704 0044 0532 0130 00); the server is 10.20.30.40 or 2001:db8::1; "
        "card 4111 1111 1111 1112 fails the checksum."
    )

    (sent,) = pii_scrub(texts=[text], enabled=PII_TYPES_DEFAULT).texts

    assert sent == (
        "Call <PHONE_1> or <PHONE_2>; pay <IBAN_1> (not DE00 3704 0044 0532 0130 00); "
        "the server is <IP_ADDRESS_1> or <IP_ADDRESS_2>; card 4111 1111 1111 1112 fails the checksum."
    )


def test_national_ids_are_off_by_default_and_scrubbed_when_enabled() -> None:
    text = "My NHS number is 943 476 5919."
    assert settings.PII_NATIONAL_IDS == []
    assert pii_types_enabled(national_ids=settings.PII_NATIONAL_IDS) == PII_TYPES_DEFAULT

    default = pii_scrub(texts=[text], enabled=pii_types_enabled(national_ids=[]))
    enabled = pii_scrub(texts=[text], enabled=pii_types_enabled(national_ids=["UK_NHS"]))

    assert PiiType.UK_NHS not in default.found
    assert "<UK_NHS_1>" not in default.texts[0]
    assert enabled.texts == ("My NHS number is <UK_NHS_1>.",)


def test_only_national_ids_can_be_enabled_by_name() -> None:
    with pytest.raises(ValueError):
        pii_types_enabled(national_ids=["PASSPORT"])
    with pytest.raises(ValueError):
        pii_types_enabled(national_ids=["PERSON"])


def test_a_placeholder_already_in_the_text_is_restored_as_itself_not_as_another_value() -> None:
    # A hostile document plants "<PERSON_1>"; if it survived as is, restoring the model's answer
    # would turn it into the real person of this request.
    scrubbed = pii_scrub(texts=["<PERSON_1> is the admin. Ask James Smith."], enabled=PII_TYPES_DEFAULT)

    (sent,) = scrubbed.texts
    assert dict(scrubbed.placeholders.mapping) == {"<PERSON_1>": "<PERSON_1>", "<PERSON_2>": "James Smith"}
    assert sent == "<PERSON_1> is the admin. Ask <PERSON_2>."
    answer = "The admin is <PERSON_1>; <PERSON_2> can help. <EMAIL_9> is unknown."
    assert (
        pii_restore(text=answer, placeholders=scrubbed.placeholders.mapping)
        == "The admin is <PERSON_1>; James Smith can help. <EMAIL_9> is unknown."
    )


def test_a_planted_placeholder_in_a_later_call_gets_its_own_number() -> None:
    first = pii_scrub(texts=["James Smith asked."], enabled=PII_TYPES_DEFAULT)
    second = pii_scrub(
        texts=["A passage says <PERSON_1> is root."], enabled=PII_TYPES_DEFAULT, known=first.placeholders
    )

    assert second.texts == ("A passage says <PERSON_2> is root.",)
    assert pii_restore(text="<PERSON_1> vs <PERSON_2>", placeholders=second.placeholders.mapping) == (
        "James Smith vs <PERSON_1>"
    )


def test_restoring_is_one_pass_so_a_value_shaped_like_a_placeholder_is_not_expanded_again() -> None:
    assert pii_restore(text="<EMAIL_1>", placeholders={"<EMAIL_1>": "<PERSON_1>", "<PERSON_1>": "x"}) == "<PERSON_1>"


def test_hostile_input_long_unicode_and_odd_brackets_does_not_crash() -> None:
    long_text = ("Lorem ipsum dolor sit amet, Ana Silva <<<>>> 1234567890123456789012345678901234567890 " * 300)[
        :60_000
    ]
    weird = "Zoë Ødegård \u202e\u0000 emoji 🙂 <PERSON_> <PERSON_0> <X_1> <person_1> ‹EMAIL_1› " + "9" * 5000

    scrubbed = pii_scrub(texts=[long_text, weird, ""], enabled=PII_TYPES_DEFAULT)

    assert scrubbed.texts[2] == ""
    assert "Ana Silva" not in scrubbed.texts[0]
    for original, sent in zip([long_text, weird], scrubbed.texts[:2], strict=True):
        assert pii_restore(text=sent, placeholders=scrubbed.placeholders.mapping) == original


def test_the_analyzer_is_built_once_across_threads() -> None:
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(pii_analyzer())) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({id(analyzer) for analyzer in seen}) == 1


def test_detection_is_cached_per_text_and_types() -> None:
    text = "Call Maria Garcia on +46 8 123 456 78."
    first = pii_detect(texts=[text], enabled=PII_TYPES_DEFAULT)
    again = pii_detect(texts=[text, text], enabled=PII_TYPES_DEFAULT)

    assert again == [first[0], first[0]]
    assert [span.type for span in first[0]] == [PiiType.PERSON, PiiType.PHONE]
    assert pii_detect(texts=[text], enabled=frozenset({PiiType.PHONE}))[0][0].type is PiiType.PHONE
    assert len(pii_detect(texts=[text], enabled=frozenset({PiiType.PHONE}))[0]) == 1


# --------------------------------------------------------------------------- streaming
MAPPING = {"<PERSON_1>": "Priya Raghunathan", "<EMAIL_1>": "priya.r@example.com", "<PERSON_12>": "Tom Baker"}


def _stream(chunks: list[str]) -> tuple[str, list[str]]:
    restorer = PlaceholderRestorer(placeholders=MAPPING)
    outputs = [restorer.feed(chunk) for chunk in chunks]
    outputs.append(restorer.flush())
    return "".join(outputs), outputs


def test_a_placeholder_split_over_two_chunks_is_held_back_and_restored() -> None:
    text, outputs = _stream(["Ask <PERS", "ON_1> today."])

    assert outputs[0] == "Ask "
    assert text == "Ask Priya Raghunathan today."


def test_a_placeholder_split_over_three_chunks_is_restored() -> None:
    text, outputs = _stream(["Write to <", "EMAIL", "_1> or <PERSON_1", "2>."])

    assert outputs[:2] == ["Write to ", ""]
    assert text == "Write to priya.r@example.com or Tom Baker."


def test_a_lone_angle_bracket_that_is_not_a_placeholder_passes_through_at_once() -> None:
    _text, outputs = _stream(["if a <", " b then", " x <y> z"])

    assert outputs[0] == "if a "  # "<" could still start a placeholder
    assert outputs[1] == "< b then"  # " b" shows it cannot
    assert "".join(outputs) == "if a < b then x <y> z"


def test_an_unfinished_placeholder_at_the_end_of_the_stream_is_flushed_as_text() -> None:
    text, outputs = _stream(["See <PERSON_"])

    assert outputs == ["See ", "<PERSON_"]
    assert text == "See <PERSON_"


def test_streamed_token_by_token_equals_restoring_the_whole_answer() -> None:
    answer = "<PERSON_1> (<EMAIL_1>) met <PERSON_12> and <PERSON_1>; 3 < 4 and <PERSON_99> stays."
    restorer = PlaceholderRestorer(placeholders=MAPPING)

    streamed = "".join(restorer.feed(ch) for ch in answer) + restorer.flush()

    assert streamed == pii_restore(text=answer, placeholders=MAPPING)
    assert (
        streamed
        == "Priya Raghunathan (priya.r@example.com) met Tom Baker and Priya Raghunathan; 3 < 4 and <PERSON_99> stays."
    )


def test_placeholders_written_by_scrub_match_the_restore_pattern() -> None:
    scrubbed = pii_scrub(texts=[QUESTION], enabled=PII_TYPES_DEFAULT)

    assert all(PLACEHOLDER_RE.fullmatch(placeholder) for placeholder in scrubbed.placeholders.mapping)


def test_threads_scrubbing_at_once_get_the_same_results_as_one_after_another() -> None:
    texts = [f"Ticket {n}: Maria Garcia (maria{n}@example.com) called from +44 20 7946 09{n:02d}." for n in range(12)]
    expected = [pii_scrub(texts=[text], enabled=PII_TYPES_DEFAULT).texts for text in texts]
    pii_cache_clear()
    results: dict[int, tuple[str, ...]] = {}

    def scrub(index: int) -> None:
        results[index] = pii_scrub(texts=[texts[index]], enabled=PII_TYPES_DEFAULT).texts

    threads = [threading.Thread(target=scrub, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [results[n] for n in range(12)] == expected
    assert expected[0] == ("Ticket 0: <PERSON_1> (<EMAIL_1>) called from <PHONE_1>.",)
