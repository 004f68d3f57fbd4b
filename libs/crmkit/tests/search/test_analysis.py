"""Unit tests for the analysis both engines share: phones, CJK, query plans, highlights."""

from __future__ import annotations

import pytest

from crmkit.search.analysis import (
    QueryPlan,
    Word,
    apply_highlight,
    cjk_bigram_text,
    cjk_bigrams,
    edit_distance_at_most_one,
    highlight_spans,
    latin_words,
    national_number,
    normalize_phone,
    phone_index_keys,
    phone_query_keys,
    plan_query,
    split_cjk_chars,
    strip_cjk,
)

# --- phones ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "+86 138-0013-8000",
        "13800138000",
        "0086 138 0013 8000",
        "(+86) 138 0013 8000",
        "+86 (138) 0013.8000",
        "１３８００１３８０００",  # full-width digits from a Chinese IME
        "8613800138000",
        "+8613800138000",
    ],
)
def test_every_way_of_writing_a_mobile_number_gives_one_e164(typed: str) -> None:
    assert normalize_phone(typed) == "+8613800138000"


def test_national_formats_follow_the_region() -> None:
    assert normalize_phone("010-6552 9988") == "+861065529988"  # Beijing landline, trunk 0 dropped
    assert normalize_phone("(415) 555-0100", region="US") == "+14155550100"
    assert normalize_phone("020 7946 0958", region="GB") == "+442079460958"


def test_text_is_not_a_phone_number() -> None:
    assert normalize_phone("hello") is None
    assert normalize_phone("") is None


@pytest.mark.parametrize(
    ("e164", "national"),
    [("+8613800138000", "13800138000"), ("+14155550100", "4155550100"), ("+442079460958", "2079460958")],
)
def test_national_number_strips_the_country_code(e164: str, national: str) -> None:
    assert national_number(e164) == national


def test_a_stored_phone_is_findable_by_e164_and_national_number() -> None:
    assert phone_index_keys("+1 415 555 0100") == ["+14155550100", "4155550100"]


def test_a_foreign_number_typed_nationally_yields_its_national_key() -> None:
    # Read with the default region (CN) it is wrong, so the national key must carry it.
    assert "4155550100" in phone_query_keys("(415) 555-0100")
    assert "2079460958" in phone_query_keys("020 7946 0958")


def test_an_international_query_has_no_national_guess() -> None:
    assert phone_query_keys("+49 89 636 00") == ["+498963600"]


# --- CJK ------------------------------------------------------------------------


def test_cjk_text_becomes_overlapping_bigrams() -> None:
    assert cjk_bigrams("华为技术") == ["华为", "为技", "技术"]
    assert cjk_bigrams("张") == ["张"]  # a lone character stays a unigram
    assert cjk_bigrams("") == []


def test_bigram_text_skips_latin_and_keeps_runs_apart() -> None:
    # no bigram across "Mate": 为体 would match text that is not there
    assert cjk_bigram_text("华为Mate体验店") == "华为 体验 验店"


def test_latin_fields_see_words_and_cjk_unigrams_apart() -> None:
    assert strip_cjk("华为Mate60手机").split() == ["Mate60"]
    assert split_cjk_chars("张伟Zhang").split() == ["张", "伟", "Zhang"]
    assert latin_words("华为Mate 60, Zhang.Wei_x") == ["Mate", "60", "Zhang", "Wei", "x"]


# --- query plans ------------------------------------------------------------------


def test_a_phone_like_query_becomes_a_phone_lookup() -> None:
    plan = plan_query("138 0013 8000")
    assert plan.phone_keys[0] == "+8613800138000" and not plan.words


def test_few_digits_are_words_not_a_phone() -> None:
    assert plan_query("2024").words == (Word("2024", fuzzy=0, prefix=True),)


def test_without_phone_fields_a_number_is_searched_as_words() -> None:
    assert plan_query("13800138000", phones=False).phone_keys == ()


def test_an_address_with_at_becomes_an_email_lookup() -> None:
    assert plan_query("Zhang.Wei@Huawei.COM") == QueryPlan(email="zhang.wei@huawei.com")


def test_words_get_fuzziness_from_five_letters_and_never_for_numbers() -> None:
    plan = plan_query("Acme Siemans A380x ")
    assert [(w.text, w.fuzzy) for w in plan.words] == [("Acme", 0), ("Siemans", 1), ("A380x", 0)]


def test_only_the_word_being_typed_is_a_prefix() -> None:
    assert [w.prefix for w in plan_query("Zhang We").words] == [False, True]
    assert [w.prefix for w in plan_query("Zhang We ").words] == [False, False]


def test_a_single_trailing_letter_does_not_restrict() -> None:
    assert [w.text for w in plan_query("Zhang W").words] == ["Zhang"]
    assert [w.text for w in plan_query("W").words] == ["W"]  # alone, it is the query


def test_mixed_query_splits_into_words_and_cjk_runs() -> None:
    plan = plan_query("华为 Mate")
    assert plan.cjk == ("华为",) and [w.text for w in plan.words] == ["Mate"]


def test_blank_text_plans_nothing() -> None:
    assert plan_query("   ").is_empty


# --- highlights -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "close"),
    [
        ("siemens", "siemans", True),  # substitution
        ("alibaba", "alibba", True),  # deletion
        ("acme", "acmee", True),  # insertion
        ("siemens", "seimens", True),  # transposition
        ("siemens", "semans", False),
        ("acme", "acme", True),
    ],
)
def test_edit_distance_at_most_one(a: str, b: str, close: bool) -> None:
    assert edit_distance_at_most_one(a, b) is close


def _stem(word: str) -> str:
    return word.lower().removesuffix("s").removesuffix("ing").removesuffix("er")


def test_spans_cover_stemmed_fuzzy_prefix_and_cjk_matches() -> None:
    plan = plan_query("华为 engineers Siemans Zha")
    text = "华为 Acme Engineering, Siemens, Zhang"
    marked = apply_highlight(text, highlight_spans(text, plan, _stem))
    assert marked == "<em>华为</em> Acme <em>Engineering</em>, <em>Siemens</em>, <em>Zhang</em>"


def test_overlapping_bigram_spans_merge_into_one_highlight() -> None:
    plan = plan_query("华为技术")
    text = "深圳华为技术有限公司"
    assert apply_highlight(text, highlight_spans(text, plan, _stem)) == "深圳<em>华为技术</em>有限公司"


def test_highlighted_text_is_html_escaped() -> None:
    plan = plan_query("acme")
    text = "<script>Acme</script>"
    assert apply_highlight(text, highlight_spans(text, plan, _stem)) == "&lt;script&gt;<em>Acme</em>&lt;/script&gt;"


def test_long_values_are_cut_around_the_first_match() -> None:
    text = "x" * 500 + " Siemens " + "y" * 500
    fragment = apply_highlight(text, highlight_spans(text, plan_query("Siemens "), _stem))
    assert "<em>Siemens</em>" in fragment and len(fragment) < 200
