"""Vietnamese collation and formatting for the reports (issue 5): names in dictionary order, numbers, percentages
and dates as Vietnamese documents write them, with English variants where user text is produced.

Collation is hand-written rather than taken from a library, after checking the candidates on this machine kind:

- PyICU (2.17) has the right tailoring (CLDR `vi`: ``&a<ă<â &d<đ &e<ê &o<ô<ơ &u<ư``, then the tones grave <<
  hook above << tilde << acute << dot below), but PyPI ships it only as source: every fresh virtualenv (and so
  every CI run of ``make test`` on a new clone) would compile it against the system's libicu-dev (2 min 25 s
  here, 1 min 21 s of CPU), a system package that this machine has but its kind's description does not promise.
- icu4py (1.2.0) ships wheels with ICU inside but exposes no collator (only breakers, locale, messageformat).
- pyuca (1.2) uses the DUCET only: it sorts "Ăn" before "Anh" and "Đào" before "Dung" (ă and đ as a and d with a
  secondary mark), which is wrong in Vietnamese (tests/unit/test_vietnamese.py shows it without needing pyuca).

The rule itself is small and is written out below. A one-off comparison with PyICU's `vi` collator (ICU 72.1) on
1,500 generated syllables (NFC and NFD, mixed case) gave the same order for 1,124,220 of the 1,124,231 pairs
whose letters or tones differ; in the other 11 the two tones sit on different vowels ("Lủin", "Luĩn"): ICU
compares where the marks are, this compares the tones (hỏi before ngã), as a reader does.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from shared.i18n import vn_date

# The Vietnamese alphabet (29 letters), with the Latin letters it lacks (f, j, w, z) put where Latin puts them, so a
# foreign name still sorts sensibly. The letters with a modifier (ă â đ ê ô ơ ư) are letters of their own: a
# primary difference, after their base letter.
ALPHABET = ("a", "ă", "â", "b", "c", "d", "đ", "e", "ê", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "ô",
            "ơ", "p", "q", "r", "s", "t", "u", "ư", "v", "w", "x", "y", "z")
_DIGIT_WEIGHT = 0  # a run of digits sorts before any letter, by its numeric value ("Tổ 2" before "Tổ 10")
_LETTER_WEIGHT = {letter: i + 1 for i, letter in enumerate(ALPHABET)}
_OTHER_WEIGHT = len(ALPHABET) + 1  # letters of other scripts: after z, by code point

# Combining marks (after NFD) that make a letter of the alphabet from its base: breve, circumflex, horn.
_MODIFIERS = {"\u0306", "\u0302", "\u031b"}
# The five tone marks (dấu thanh), in Vietnamese dictionary order after the level tone (thanh ngang, no mark):
# huyền (grave), hỏi (hook above), ngã (tilde), sắc (acute), nặng (dot below).
TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}

# A word (âm tiết) for collation, in NFD: letters and digits with their combining marks; anything else separates
# words and is ignored until the last tie-break (so "Tổ 5." and "Tổ 5" differ only there).
_WORD = re.compile(r"(?:[^\W_][\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]*)+")

Key = tuple[Any, ...]


def _letter_key(base: str, marks: list[str]) -> tuple[int, int]:
    """The primary weight of one letter: its base letter with the modifiers among its marks."""
    lower = base.lower()
    modifiers = "".join(m for m in marks if m in _MODIFIERS)
    letter = unicodedata.normalize("NFC", lower + modifiers) if modifiers else lower
    weight = _LETTER_WEIGHT.get(letter)
    if weight is None:  # a letter outside the alphabet (ç, ñ: their base; Cyrillic...: after z by code point)
        weight = _LETTER_WEIGHT.get(lower)
        if weight is None:
            return (_OTHER_WEIGHT, ord(lower))
    return (weight, 0)


@lru_cache(maxsize=1 << 16)  # names repeat their words: a district's 9,255 members have a few thousand
def _word_key(word: str) -> tuple[Key, Key, Key]:
    """(letters, tones, cases) of one word given in NFD.

    Letters: the primary weights of the alphabet (a run of digits as one number). Tones: in the order they occur; a
    Vietnamese syllable has one, so "Hòa" and "Hoà" (the tone written on another vowel, an old spelling) tie here.
    Cases: lower (0) or upper (1), letter by letter.
    """
    letters: list[tuple[int, int]] = []
    tones: list[int] = []
    cases: list[int] = []
    i, n = 0, len(word)
    while i < n:
        ch = word[i]
        if ch.isdecimal():  # int() reads any script's decimal digits
            j = i
            while j < n and word[j].isdecimal():
                j += 1
            letters.append((_DIGIT_WEIGHT, int(word[i:j])))
            i = j
            continue
        marks = []
        j = i + 1
        while j < n and unicodedata.combining(word[j]):
            marks.append(word[j])
            j += 1
        letters.append(_letter_key(ch, marks))
        tones.extend(TONES[m] for m in marks if m in TONES)
        cases.append(1 if ch.isupper() else 0)
        i = j
    return tuple(letters), tuple(tones), tuple(cases)


def sort_key(text: str) -> tuple[Key, Key, str]:
    """A key for Vietnamese dictionary order, for `sorted(..., key=sort_key)`.

    Words (syllables) are compared one after another, each by its letters and then its tone before the next word,
    as Vietnamese dictionaries do: "ba" < "ba ba" < "ba lô" < "bà" < "bà con". The letters are the 29 of the
    Vietnamese alphabet (ă, â, đ, ê, ô, ơ, ư are letters after a, a, d, e, o, o, u: "Az" < "Ăn" < "Ân"); the
    tones rank none < huyền < hỏi < ngã < sắc < nặng ("Anh" < "Ánh"). A word that is a prefix of another comes
    first ("An" < "Anh"). Digits sort before letters and by value ("Tổ 9" < "Tổ 10"). Only then does case count
    (lower first: "ba" < "Ba" < "ba ba"), then punctuation and spacing, and last the text itself (NFC), so the
    order is total and the same for NFC and NFD input.

    ICU's `vi` collator agrees within a word (unless the tones sit on different vowels: see above); across words it
    compares the letters of the whole text first, so it puts "bà con" before "ba lô".
    """
    nfd = unicodedata.normalize("NFD", text)
    words = [_word_key(w) for w in _WORD.findall(nfd)]
    return tuple((w[0], w[1]) for w in words), tuple(w[2] for w in words), unicodedata.normalize("NFC", text)


def name_sort_key(full_name: str) -> tuple[tuple[Key, Key, str], tuple[Key, Key, str]]:
    """A key for a list of people: by given name (the last word, "Nguyễn Văn An" -> "An"), then by family and
    middle names, each in `sort_key` order, as Vietnamese lists of members are ordered."""
    words = full_name.split()
    given = words[-1] if words else ""
    return sort_key(given), sort_key(" ".join(words[:-1]))


# ---- numbers, percentages, dates -------------------------------------------------------------------------------

def _check_lang(lang: str) -> str:
    if lang not in ("vi", "en"):
        raise ValueError(f"unsupported language {lang!r} (vi or en)")
    return lang


def number(value: int | float | Decimal, decimals: int = 0, lang: str = "vi") -> str:
    """A number for people to read: "9.255" and "85,5" in Vietnamese (dot groups thousands, comma marks decimals),
    "9,255" and "85.5" in English. Rounded half up on the number as written ("0,125" -> "0,13"), not on its
    binary value, so a figure never rounds differently from what a person would do by hand."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TypeError(f"not a number: {value!r}")
    exact = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not exact.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    rounded = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    text = f"{rounded:,.{decimals}f}"
    if text.startswith("-") and rounded == 0:  # "-0" after rounding a tiny negative
        text = text[1:]
    if _check_lang(lang) == "vi":
        text = text.translate(str.maketrans({",": ".", ".": ","}))
    return text


def percent(value: float | None, decimals: int = 1, lang: str = "vi") -> str:
    """A ratio (0..1) as a percentage: 0.855 -> "85,5%" ("85.5%" in English); a value that is whole once rounded
    prints without decimals ("100%", "90%"); None (nothing to divide by) -> "—"."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TypeError(f"not a ratio: {value!r}")
    hundred = Decimal(str(value)) * 100 if isinstance(value, float) else Decimal(value) * 100
    if not hundred.is_finite():
        raise ValueError(f"not a finite ratio: {value!r}")
    rounded = hundred.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    places = 0 if rounded == rounded.to_integral_value() else decimals
    return number(rounded, places, lang) + "%"


def as_date(value: dt.date | dt.datetime | str) -> dt.date:
    """A date from a date, a datetime (its calendar date) or an ISO text ("2026-03-05")."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    raise TypeError(f"not a date: {value!r}")


def date(value: dt.date | dt.datetime | str, lang: str = "vi") -> str:
    """A date in a table: "05/03/2026" in Vietnamese; ISO "2026-03-05" in English (unambiguous for any reader)."""
    day = as_date(value)
    return vn_date(day) if _check_lang(lang) == "vi" else day.isoformat()


_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December")


def place_date(place: str, value: dt.date | dt.datetime | str, lang: str = "vi") -> str:
    """The place and date line of a document: "Mê Linh, ngày 05 tháng 3 năm 2026".

    Days below 10 and the months 1 and 2 take a leading zero, other months do not ("ngày 20 tháng 02 năm 2018",
    "ngày 03 tháng 4 năm 2018"): Nghị định 30/2020/NĐ-CP, Phụ lục I (administrative documents), and the same in
    the party's guidance on document form, HD 36-HD/VPTW (2018), whose own date line reads "Hà Nội, ngày 03 tháng 4
    năm 2018". The zero keeps "1" and "2" from being turned into 11, 12 or 21... by a stroke of the pen; there is no
    month 13, so months from 3 on need none. English: "Mê Linh, 5 March 2026".
    """
    day = as_date(value)
    if _check_lang(lang) == "en":
        return f"{place}, {day.day} {_MONTHS_EN[day.month - 1]} {day.year}"
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"{place}, ngày {day.day:02d} tháng {month} năm {day.year}"
