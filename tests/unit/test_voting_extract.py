"""Short-answer extraction: each mode's rules and the priorities of "auto"."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conclave.errors import InvalidRequest
from conclave.leader.voting.extract import EXTRACT_MODES, extract_answer, normalize_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The total is 1,000 apples", "1000"),
        ("It costs $3.50.", "3.5"),
        ("-0", "0"),
        ("-0.00", "0"),
        ("2.0", "2"),
        ("from 3 to -7", "-7"),
        ("5-3 = 2", "2"),
        ("first 12, then 1,234,567.890", "1234567.89"),
        ("1,2,3", "3"),
        (".5 of it", "0.5"),
        ("100", "100"),
        ("no digits here!", "no digits here"),
    ],
)
def test_number_mode(text: str, expected: str) -> None:
    assert extract_answer(text, "number") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The answer is (B).", "B"),
        ("answer: C", "C"),
        ("Final answer is **D**", "D"),
        ("B) Paris", "B"),
        ("(A) because reasons", "A"),
        ("**E**", "E"),
        ("C.", "C"),
        ("  d  ", "d"),  # lower case is not an option letter: whole text normalized
        ("A cat sat.", "a cat sat"),  # the article is not an option
        ("I pick B) as the answer is (C)", "C"),  # the explicit answer wins
    ],
)
def test_letter_mode(text: str, expected: str) -> None:
    assert extract_answer(text, "letter") == expected


def test_first_line_and_text_modes() -> None:
    text = "\n\n  Paris,   France.  \nIt is the capital!"
    assert extract_answer(text, "first_line") == "paris, france"
    assert extract_answer(text, "text") == "paris, france. it is the capital"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"We get \boxed{42} in the end, not 41.", "42"),
        (r"\boxed{\frac{1}{2}}", r"\frac{1}{2}"),  # several numbers: kept whole
        ("So the answer is $1,000 dollars.", "1000"),  # one number: that number
        ("The answer is 7. Earlier I thought 8.", "7"),
        ("Answer: Paris. It is lovely, 2 times.", "paris"),
        ("Answer: (B)", "B"),
        ("There are 3 cats and 4 dogs", "4"),  # the last number
        ("B) the second option", "B"),
        ("(C)", "C"),
        ("Paris\nbecause it is the capital", "paris"),
        ("**Paris.**", "paris"),
    ],
)
def test_auto_mode(text: str, expected: str) -> None:
    assert extract_answer(text) == expected


def test_auto_prefers_boxed_over_stated_answer() -> None:
    assert extract_answer(r"The answer is 3. Check: \boxed{5}") == "5"


def test_unknown_mode_is_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match="roman"):
        extract_answer("x", "roman")


@given(st.text(max_size=200), st.sampled_from(EXTRACT_MODES))
def test_extraction_is_total_and_normalized(text: str, mode: str) -> None:
    answer = extract_answer(text, mode)
    assert answer == answer.strip()
    assert extract_answer(text, mode) == answer  # deterministic


@given(st.text(max_size=100))
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


@pytest.mark.parametrize("text", ["- Paris.", "* Paris", "• **Paris**", "Paris"])
def test_a_list_marker_is_not_part_of_the_answer(text: str) -> None:
    assert extract_answer(text, "first_line") == "paris"


def test_a_negative_number_keeps_its_sign() -> None:
    assert extract_answer("-5", "text") == "-5"
    assert extract_answer("- 5", "text") == "5"
