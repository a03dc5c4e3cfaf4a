"""Poll input, checked before anything touches the database: options, question, duration,
choices, poll references, and the anonymous voter key."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import MAX_OPTIONS
from services.errors import InvalidInputError
from services.polls import (
    DEFAULT_DURATION,
    MAX_OPTION_LENGTH,
    MAX_QUESTION_LENGTH,
    PollSpec,
    bits,
    build_spec,
    parse_duration,
    parse_options,
    parse_poll_reference,
    parse_question,
    voter_key,
)

SECRET = b"k" * 32
USER = 234_567_890_123_456_789  # a real-looking snowflake: 18 digits


def refused(call: object, *args: object, **kwargs: object) -> str:
    """Run ``call`` expecting InvalidInputError; return its message (checked non-empty)."""
    with pytest.raises(InvalidInputError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    message = caught.value.message
    assert isinstance(message, str) and message.strip(), "a refusal must say what to fix"
    assert str(caught.value) == message
    return message


# -- options --------------------------------------------------------------------------------


def test_options_are_split_on_the_bar_and_trimmed() -> None:
    assert parse_options("Red | Green | Blue") == ("Red", "Green", "Blue")
    assert parse_options("Red|Green") == ("Red", "Green")
    assert parse_options("  Pizza   |\tTacos \n") == ("Pizza", "Tacos")


def test_inner_whitespace_is_collapsed() -> None:
    assert parse_options("Ice   cream | Hot\tdog") == ("Ice cream", "Hot dog")


@pytest.mark.parametrize("n", [2, 3, 13, MAX_OPTIONS])
def test_two_to_twenty_five_options_are_accepted(n: int) -> None:
    options = [f"Option {i}" for i in range(n)]
    assert parse_options(" | ".join(options)) == tuple(options)


@pytest.mark.parametrize("raw", ["", "   ", "Only one", "Only one |", "|", "| |"])
def test_fewer_than_two_options_are_refused(raw: str) -> None:
    message = refused(parse_options, raw)
    assert "at least 2" in message
    assert "|" in message  # shows how to separate them


@pytest.mark.parametrize("n", [MAX_OPTIONS + 1, 40])
def test_more_than_twenty_five_options_are_refused(n: int) -> None:
    message = refused(parse_options, " | ".join(f"o{i}" for i in range(n)))
    assert str(MAX_OPTIONS) in message
    assert str(n) in message


@pytest.mark.parametrize(
    "raw",
    ["Red || Blue", "Red | | Blue", "| Red | Blue", "Red | Blue |", "Red | Blue | ", "|Red|Blue|"],
)
def test_an_empty_option_is_refused(raw: str) -> None:
    message = refused(parse_options, raw)
    assert "empty" in message.lower()


def test_option_length_limit_is_eighty_characters() -> None:
    ok = "x" * MAX_OPTION_LENGTH
    assert parse_options(f"{ok} | short") == (ok, "short")
    message = refused(parse_options, f"short | {'y' * (MAX_OPTION_LENGTH + 1)}")
    assert "Option 2" in message  # which one
    assert str(MAX_OPTION_LENGTH) in message
    assert str(MAX_OPTION_LENGTH + 1) in message


def test_a_one_character_option_is_fine() -> None:
    assert parse_options("A | B") == ("A", "B")


@pytest.mark.parametrize(
    "raw", ["Red | red", "Red | Blue | RED", "Ice  cream | ice cream", "Straße | STRASSE"]
)
def test_duplicate_options_are_refused_case_insensitively(raw: str) -> None:
    message = refused(parse_options, raw)
    assert "same" in message or "different" in message


def test_duplicate_message_names_the_positions() -> None:
    message = refused(parse_options, "Tea | Coffee | tea")
    assert "1" in message and "3" in message


_LETTERS = st.characters(
    blacklist_categories=["Cs", "Cc", "Zs", "Zl", "Zp"], blacklist_characters="|"
)
_OPTION = st.text(_LETTERS, min_size=1, max_size=MAX_OPTION_LENGTH).map(lambda s: s.strip())


def _normalised(option: str) -> bool:
    return bool(option) and " ".join(option.split()) == option


@settings(max_examples=200, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    st.lists(
        _OPTION.filter(_normalised),
        min_size=2,
        max_size=MAX_OPTIONS,
        unique_by=lambda s: s.casefold(),
    )
)
def test_distinct_options_round_trip(options: list[str]) -> None:
    assert parse_options(" | ".join(options)) == tuple(options)
    assert parse_options("|".join(options)) == tuple(options)


@settings(max_examples=300)
@given(st.text(max_size=400))
def test_any_text_as_options_is_parsed_or_refused_with_a_message(raw: str) -> None:
    try:
        options = parse_options(raw)
    except InvalidInputError as e:
        assert e.message.strip()
    else:
        assert 2 <= len(options) <= MAX_OPTIONS
        assert all(1 <= len(o) <= MAX_OPTION_LENGTH and "|" not in o for o in options)
        assert len({o.casefold() for o in options}) == len(options)
        assert all(o == " ".join(o.split()) for o in options)


# -- question -------------------------------------------------------------------------------


def test_question_is_trimmed() -> None:
    assert parse_question("  Lunch?  ") == "Lunch?"


def test_question_length_limit() -> None:
    longest = "q" * MAX_QUESTION_LENGTH
    assert parse_question(longest) == longest
    assert parse_question(f"  {longest}  ") == longest  # counted after trimming
    message = refused(parse_question, longest + "?")
    assert str(MAX_QUESTION_LENGTH) in message
    assert str(MAX_QUESTION_LENGTH + 1) in message


@pytest.mark.parametrize("raw", ["", " ", "\n\t "])
def test_empty_question_is_refused(raw: str) -> None:
    assert "empty" in refused(parse_question, raw).lower()


@given(st.text(max_size=MAX_QUESTION_LENGTH + 50))
def test_any_question_is_accepted_or_refused_with_a_message(raw: str) -> None:
    try:
        question = parse_question(raw)
    except InvalidInputError as e:
        assert e.message.strip()
        assert not raw.strip() or len(raw.strip()) > MAX_QUESTION_LENGTH
    else:
        assert question == raw.strip()
        assert 1 <= len(question) <= MAX_QUESTION_LENGTH


# -- duration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(weeks=1)),
        ("2h30m", timedelta(hours=2, minutes=30)),
        ("1 day", timedelta(days=1)),
        (" 45m ", timedelta(minutes=45)),
        ("1m", timedelta(minutes=1)),
        ("32d", timedelta(days=32)),
    ],
)
def test_durations_are_read(raw: str, expected: timedelta) -> None:
    assert parse_duration(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_no_duration_means_a_day(raw: str | None) -> None:
    assert parse_duration(raw) == DEFAULT_DURATION == timedelta(hours=24)


@pytest.mark.parametrize("raw", ["90", "1440", "garbage", "soon", "tomorrow", "2 fortnights", "h"])
def test_unreadable_durations_are_refused_with_an_example(raw: str) -> None:
    message = refused(parse_duration, raw)
    assert "30m" in message or "2h" in message  # shows the expected form


@pytest.mark.parametrize("raw", ["0m", "0s", "30s", "-5m", "-2h"])
def test_too_short_or_negative_durations_are_refused(raw: str) -> None:
    message = refused(parse_duration, raw)
    assert "1 minute" in message


@pytest.mark.parametrize("raw", ["33d", "32d1s", "5w", "1y", "1000w"])
def test_durations_over_32_days_are_refused(raw: str) -> None:
    message = refused(parse_duration, raw)
    assert "32" in message


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=40), st.from_regex(r"\A[-+]?\d{1,30}(\.\d+)?\s?[smhdwy]\Z")))
def test_any_duration_text_is_read_or_refused_with_a_message(raw: str) -> None:
    try:
        duration = parse_duration(raw)
    except InvalidInputError as e:
        assert e.message.strip()
    else:
        assert timedelta(minutes=1) <= duration <= timedelta(days=32)


# -- the whole spec -------------------------------------------------------------------------


def test_build_spec_defaults() -> None:
    spec = build_spec(question=" Lunch? ", options="Pizza | Tacos")
    assert spec == PollSpec(
        question="Lunch?",
        options=("Pizza", "Tacos"),
        choices=1,
        duration=timedelta(hours=24),
        anonymous=False,
        hide_results=False,
        voter_role_id=None,
    )


def test_build_spec_keeps_everything_given() -> None:
    spec = build_spec(
        question="Games night?",
        options="Chess | Go | Poker",
        choices=3,
        duration="2h30m",
        anonymous=True,
        hide_results=True,
        voter_role_id=42,
    )
    assert spec.choices == 3
    assert spec.duration == timedelta(hours=2, minutes=30)
    assert (spec.anonymous, spec.hide_results, spec.voter_role_id) == (True, True, 42)


@pytest.mark.parametrize("choices", [0, -1, 4, 26])
def test_choices_out_of_range_are_refused(choices: int) -> None:
    message = refused(build_spec, question="Q?", options="A | B | C", choices=choices)
    assert "choices" in message
    assert "3" in message  # the upper bound for this poll
    assert str(choices) in message


@pytest.mark.parametrize("choices", [1, 2, 3])
def test_choices_up_to_the_number_of_options_are_accepted(choices: int) -> None:
    assert build_spec(question="Q?", options="A | B | C", choices=choices).choices == choices


@pytest.mark.parametrize(
    "kwargs",
    [
        {"question": "", "options": "A | B"},
        {"question": "Q?", "options": "A"},
        {"question": "Q?", "options": "A | a"},
        {"question": "Q?", "options": "A | B", "duration": "90"},
        {"question": "Q?", "options": "A | B", "duration": "40d"},
        {"question": "x" * 301, "options": "A | B"},
    ],
)
def test_build_spec_refuses_any_bad_part(kwargs: dict[str, str]) -> None:
    refused(build_spec, **kwargs)


@settings(max_examples=200)
@given(
    question=st.text(max_size=320),
    options=st.text(max_size=200),
    choices=st.one_of(st.none(), st.integers(-5, 30)),
    duration=st.one_of(st.none(), st.text(max_size=20)),
)
def test_build_spec_never_raises_anything_else(
    question: str, options: str, choices: int | None, duration: str | None
) -> None:
    try:
        spec = build_spec(question=question, options=options, choices=choices, duration=duration)
    except InvalidInputError as e:
        assert e.message.strip()
    else:
        assert 1 <= spec.choices <= len(spec.options)


# -- poll references ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", 12),
        ("#12", 12),
        ("  #12 ", 12),
        ("#12 · What's for lunch?", 12),
        ("7 · 3 options", 7),
        ("123456789012345678", 123456789012345678),
    ],
)
def test_poll_references(raw: str, expected: int) -> None:
    assert parse_poll_reference(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "#", "lunch", "poll 12", "#x12", "1234567890123456789"])
def test_unreadable_poll_references_are_refused(raw: str) -> None:
    message = refused(parse_poll_reference, raw)
    assert "number" in message


@given(st.text(max_size=100))
def test_any_reference_is_a_number_or_refused(raw: str) -> None:
    try:
        poll_id = parse_poll_reference(raw)
    except InvalidInputError as e:
        assert e.message.strip()
    else:
        assert 0 <= poll_id < 10**18


# -- voter key ------------------------------------------------------------------------------


def test_voter_key_is_deterministic_hex() -> None:
    key = voter_key(SECRET, 1, USER)
    assert key == voter_key(SECRET, 1, USER)
    assert re.fullmatch(r"[0-9a-f]{64}", key)


def test_voter_key_differs_across_polls_users_and_secrets() -> None:
    key = voter_key(SECRET, 1, USER)
    assert voter_key(SECRET, 2, USER) != key
    assert voter_key(SECRET, 1, USER + 1) != key
    assert voter_key(b"j" * 32, 1, USER) != key


def test_voter_key_does_not_reveal_the_member() -> None:
    key = voter_key(SECRET, 1, USER)
    assert str(USER) not in key
    assert format(USER, "x") not in key


def test_voter_key_does_not_confuse_poll_and_user_boundaries() -> None:
    # (poll 1, user 23) and (poll 12, user 3) must not be the same voter.
    assert voter_key(SECRET, 1, 23) != voter_key(SECRET, 12, 3)


@given(
    st.binary(min_size=1, max_size=64),
    st.integers(1, 2**53),
    st.integers(1, 2**63 - 1),
    st.integers(1, 2**63 - 1),
)
def test_voter_keys_of_two_members_differ(secret: bytes, poll: int, a: int, b: int) -> None:
    if a == b:
        assert voter_key(secret, poll, a) == voter_key(secret, poll, b)
    else:
        assert voter_key(secret, poll, a) != voter_key(secret, poll, b)


# -- bits -----------------------------------------------------------------------------------


def test_bits() -> None:
    assert bits(0) == []
    assert bits(1) == [0]
    assert bits(0b10110) == [1, 2, 4]
    assert bits(1 << (MAX_OPTIONS - 1)) == [MAX_OPTIONS - 1]
    assert bits((1 << MAX_OPTIONS) - 1) == list(range(MAX_OPTIONS))
    assert bits(1 << MAX_OPTIONS) == []  # past the last option


@given(st.sets(st.integers(0, MAX_OPTIONS - 1)))
def test_bits_inverts_a_mask(positions: set[int]) -> None:
    mask = sum(1 << i for i in positions)
    assert bits(mask) == sorted(positions)
