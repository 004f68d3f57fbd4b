"""Text analysis shared by both search adapters.

Both engines must agree on what a query means, so the query is parsed here once
into a `QueryPlan`; each adapter only translates the plan into its own query
language. Index-side helpers (CJK bigrams, phone keys) are used by the embedded
engine directly and by the OpenSearch adapter for the values it precomputes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

# Bump when index-side analysis changes: stored indexes then need a rebuild.
ANALYSIS_VERSION = 1

DEFAULT_PHONE_REGION = "CN"
PREFIX_MIN_CHARS = 2  # one letter would expand to a large part of the vocabulary
PREFIX_MAX_CHARS = 20  # longest indexed edge gram; longer prefixes fall back to a term walk
FUZZY_MIN_CHARS = 5
PHONE_MIN_DIGITS = 7
HIGHLIGHT_PRE, HIGHLIGHT_POST = "<em>", "</em>"

# Ranking, shared by both engines. Fuzzy and prefix matches weigh less than an
# exact (stemmed) match of the same word, and a document that matches exactly
# also collects them: exact matches rank first.
FUZZY_WEIGHT = 0.3
PREFIX_WEIGHT = 0.5
EXACT_LOOKUP = 10.0  # phone / email equality
TIE_BREAKER = 0.1  # a word found in several fields counts a little more

# Han, kana and hangul: the scripts Lucene's cjk analyzer bigrams.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_WORD = re.compile(f"[^\\W_{_CJK}]+")  # letters/digits, as tantivy's simple tokenizer
_PHONE_LIKE = re.compile(r"^[+\d\s().\-/]+$")
_EMAIL_LIKE = re.compile(r"^[^\s@]+@[^\s@]*$")
_E164 = re.compile(r"^\+\d{6,15}$")


def normalize_text(text: str) -> str:
    """NFKC folds full-width Latin and digits (common in Chinese input) to ASCII."""
    return unicodedata.normalize("NFKC", text)


def fold(word: str) -> str:
    """Lowercase and strip accents, like tantivy's lowercase + ascii_fold filters."""
    if word.isascii():  # most words: NFKD leaves ASCII alone, and it has no accents to strip
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# --- CJK -------------------------------------------------------------------


def cjk_runs(text: str) -> list[str]:
    return _CJK_RUN.findall(text)


def cjk_bigrams(run: str) -> list[str]:
    """Overlapping bigrams; a lone character stays a unigram (Lucene cjk_bigram)."""
    if len(run) < 2:
        return [run] if run else []
    return [run[i : i + 2] for i in range(len(run) - 1)]


def cjk_bigram_text(text: str) -> str:
    """Whitespace-joined bigrams of every CJK run, for a whitespace-tokenized field."""
    return " ".join(" ".join(cjk_bigrams(run)) for run in _CJK_RUN.findall(text))


def strip_cjk(text: str) -> str:
    """Text for the Latin fields: CJK runs would otherwise become one long token."""
    return _CJK_RUN.sub(" ", text)


def split_cjk_chars(text: str) -> str:
    """Put spaces around each CJK char so a word tokenizer emits unigrams."""
    return _CJK_RUN.sub(lambda m: " " + " ".join(m.group()) + " ", text)


def latin_words(text: str) -> list[str]:
    """Words outside CJK runs, as typed (the engines fold and stem them)."""
    return _WORD.findall(text)


# --- phones and emails -----------------------------------------------------


def normalize_phone(raw: str, region: str = DEFAULT_PHONE_REGION) -> str | None:
    """E.164 ("+8613800138000") for a number written in any usual format.

    `region` decides national formats ("138 0013 8000", "010-6552 9988") and
    which international prefix ("00") is understood. None when it is no number.
    """
    text = raw.strip()
    if _E164.match(text):  # the stored form: skip the 10 µs parse on bulk loads
        return text
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not number.country_code or not number.national_number:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national_number(e164: str) -> str:
    """Digits after the country code; calling codes are prefix-free, so 1-3 digits."""
    digits = e164.lstrip("+")
    for size in (1, 2, 3):
        if int(digits[:size] or "0") in COUNTRY_CODE_TO_REGION_CODE:
            return digits[size:]
    return digits


def phone_index_keys(raw: str, region: str = DEFAULT_PHONE_REGION) -> list[str]:
    """Terms stored for one phone value: E.164, and the national number so a
    foreign number typed in its national format is still found."""
    e164 = normalize_phone(raw, region)
    if e164 is None:
        digits = re.sub(r"\D", "", raw)
        return [digits] if digits else []
    return [e164, national_number(e164)]


def phone_query_keys(raw: str, region: str = DEFAULT_PHONE_REGION) -> list[str]:
    keys: list[str] = []
    e164 = normalize_phone(raw, region)
    if e164:
        keys.append(e164)
    stripped = raw.strip()
    if not stripped.startswith(("+", "00")):
        # national format of any country: drop the trunk prefix ("020 ..." -> "20 ...")
        nsn = re.sub(r"\D", "", stripped).lstrip("0")
        if nsn and nsn not in keys:
            keys.append(nsn)
    return keys


def normalize_email(raw: str) -> str:
    return raw.strip().lower()


# --- query plans -----------------------------------------------------------


@dataclass(frozen=True)
class Word:
    """A Latin/digit word of the query: must match (stemmed, fuzzy or prefix)."""

    text: str
    fuzzy: int  # edit distance allowed: 0 or 1
    prefix: bool  # last word while typing: "Zha" -> "Zhang"


@dataclass(frozen=True)
class QueryPlan:
    """What a query text means, independent of the engine.

    Exactly one of the shapes is used: `phone_keys` for a phone number,
    `email` for an email address, else `words` and `cjk` (all must match,
    each in any text field).
    """

    words: tuple[Word, ...] = ()
    cjk: tuple[str, ...] = ()  # CJK runs; bigrams must all match, a lone char as unigram
    phone_keys: tuple[str, ...] = ()
    email: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.words or self.cjk or self.phone_keys or self.email)


def fuzzy_distance(word: str) -> int:
    """One edit for words of 5+ letters; never for numbers (ids, years, codes)."""
    if len(word) >= FUZZY_MIN_CHARS and not any(c.isdigit() for c in word):
        return 1
    return 0


def plan_query(
    text: str,
    region: str = DEFAULT_PHONE_REGION,
    *,
    phones: bool = True,
    emails: bool = True,
) -> QueryPlan:
    """`phones`/`emails`: whether the index has such fields; if not, a number or
    an address is searched as words."""
    typed = normalize_text(text)
    text = typed.strip()
    if not text:
        return QueryPlan()
    digits = sum(c.isdigit() for c in text)
    if phones and _PHONE_LIKE.match(text) and digits >= PHONE_MIN_DIGITS:
        keys = phone_query_keys(text, region)
        if keys:
            return QueryPlan(phone_keys=tuple(keys))
    if emails and _EMAIL_LIKE.match(text):
        return QueryPlan(email=normalize_email(text))
    words = latin_words(text)
    # Only the word being typed gets prefix matching; earlier words are complete.
    # A trailing space means the last word is finished: no prefix expansion.
    ends_with_word = bool(_WORD.match(typed[-1]))
    runs = tuple(cjk_runs(text))
    if ends_with_word and len(words[-1]) < PREFIX_MIN_CHARS and len(words) + len(runs) > 1:
        # "Zhang W": one typed letter says too little to require, and would
        # expand to half the vocabulary; the words before it decide.
        words = words[:-1]
        ends_with_word = False
    planned = tuple(
        Word(
            text=w,
            fuzzy=fuzzy_distance(w),
            prefix=ends_with_word and i == len(words) - 1 and len(w) >= PREFIX_MIN_CHARS,
        )
        for i, w in enumerate(words)
    )
    return QueryPlan(words=planned, cjk=runs)


# --- highlighting ------------------------------------------------------------


def edit_distance_at_most_one(a: str, b: str) -> bool:
    """Damerau distance <= 1 (a transposition counts as one, like tantivy's)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1 :] == b[i + 1 :]:
            return True  # substitution
        return a[i : i + 2] == b[i : i + 2][::-1] and a[i + 2 :] == b[i + 2 :]
    if la > lb:
        return a[i + 1 :] == b[i:]
    return a[i:] == b[i + 1 :]


def merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def highlight_spans(text: str, plan: QueryPlan, stem: Callable[[str], str]) -> list[tuple[int, int]]:
    """Character spans of `text` that the plan matched; `stem` folds and stems a word."""
    spans: list[tuple[int, int]] = []
    norm = normalize_text(text)
    if len(norm) != len(text):  # NFKC changed lengths: offsets would drift
        norm = text
    if plan.words:
        wanted = [(fold(w.text), stem(w.text), w) for w in plan.words]
        for m in _WORD.finditer(norm):
            token = fold(m.group())
            for folded, stemmed, word in wanted:
                if (
                    token == folded
                    or stem(m.group()) == stemmed
                    or (word.prefix and token.startswith(folded))
                    or (word.fuzzy and edit_distance_at_most_one(token, folded))
                ):
                    spans.append(m.span())
                    break
    for run in plan.cjk:
        for gram in cjk_bigrams(run):
            start = norm.find(gram)
            while start >= 0:
                spans.append((start, start + len(gram)))
                start = norm.find(gram, start + 1)
    return merge_spans(spans)


def apply_highlight(text: str, spans: Sequence[tuple[int, int]], max_chars: int = 160) -> str:
    """Wrap spans in <em>; long values are cut to a fragment around the first match.
    The text itself is HTML-escaped, so the fragment is safe to render."""
    lo, hi = 0, len(text)
    if len(text) > max_chars and spans:
        lo = max(0, spans[0][0] - max_chars // 4)
        hi = min(len(text), lo + max_chars)
    out, pos = [], lo
    for start, end in spans:
        if start < lo or end > hi:
            continue
        out += [escape(text[pos:start]), HIGHLIGHT_PRE, escape(text[start:end]), HIGHLIGHT_POST]
        pos = end
    out.append(escape(text[pos:hi]))
    return "".join(out)
