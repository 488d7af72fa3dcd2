"""Vietnamese collation and formatting (services/reporting/vietnamese.py), against hand-written expectations.

Each order test also shows that Python's default (code point) order differs, so the test can fail.
"""

import datetime as dt
import random
import unicodedata
from decimal import Decimal

import pytest

from services.reporting import vietnamese as vn


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


# Hand-sorted Vietnamese dictionary order: a ă â b c d đ e ê ... o ô ơ ... u ư ..., then the tone
# (none, huyền, hỏi, ngã, sắc, nặng), then case.
WORDS_IN_ORDER = [
    "An", "Anh", "Ánh", "Ăn", "Ân", "Ấn", "Bình", "Dung", "Dũng", "Đào", "Đạt", "Em", "Ê", "Giang", "Hà", "Hải",
    "Hòa", "Oanh", "Ông", "Ơn", "Uyên", "Ưng", "Vy", "Yến",
]


def test_words_sort_in_the_vietnamese_alphabet():
    shuffled = WORDS_IN_ORDER[:]
    random.Random(7).shuffle(shuffled)
    assert sorted(shuffled, key=vn.sort_key) == WORDS_IN_ORDER
    # code point order puts every letter with a mark after z: Ánh, Ân, Đào... at the end
    assert sorted(shuffled) != WORDS_IN_ORDER


@pytest.mark.parametrize(("before", "after"), [
    ("Dũng", "Đào"),      # đ is a letter after d, whatever follows
    ("Dz", "Đa"),
    ("Anh", "Ánh"),       # same letters: the tone decides, none first
    ("Anh", "Ăn"),        # ă is a letter after a: every a-word before any ă-word
    ("Az", "Ăn"),
    ("Ăn", "Ân"),         # â after ă
    ("An", "Anh"),        # a prefix first
    ("Oz", "Ôn"), ("Ôz", "Ơn"),   # o ô ơ
    ("Uz", "Ưng"),        # u ư
    ("Ez", "Ê"),          # e ê
    ("Tổ 9", "Tổ 10"),    # numbers by value
    ("Xuân", "Yến"), ("Vy", "Xuân"),
])
def test_pairs(before, after):
    assert vn.sort_key(before) < vn.sort_key(after)
    assert vn.sort_key(nfd(before)) < vn.sort_key(nfd(after))


def test_python_default_order_gets_these_pairs_wrong():
    # what the pairs above guard against: code point order
    assert "Đào" > "Dũng" and "Ánh" > "Anh"  # these happen to agree...
    assert "Ân" < "Ăn"                       # ...but â (U+00E2) comes before ă (U+0103) by code point
    assert "Ưng" > "Xuân"                    # and ư after x
    assert vn.sort_key("Ưng") < vn.sort_key("Xuân")
    assert "Tổ 10" < "Tổ 9"


def test_tones_rank_none_huyen_hoi_nga_sac_nang():
    tones = ["ma", "mà", "mả", "mã", "má", "mạ"]
    assert sorted(reversed(tones), key=vn.sort_key) == tones
    assert sorted(tones) != tones  # code point: mà (U+00E0) < má (U+00E1) < mã (U+00E3) < mả < mạ


def test_case_counts_only_after_letters_and_tones():
    assert sorted(["bà", "Ba", "ba ba", "ba"], key=vn.sort_key) == ["ba", "Ba", "ba ba", "bà"]
    assert sorted(["bà", "Ba", "ba ba", "ba"]) == ["Ba", "ba", "ba ba", "bà"]  # code point: upper case first


def test_words_compare_one_after_another_as_in_a_dictionary():
    # every "ba ..." before "bà", then "bà ...": the first syllable decides with its tone
    assert sorted(["bà con", "ba lô", "bà", "ba ba"], key=vn.sort_key) == ["ba ba", "ba lô", "bà", "bà con"]


def test_nfc_and_nfd_give_the_same_key():
    for word in [*WORDS_IN_ORDER, "Nguyễn Thị Ngọc Ánh", "Đặng Hữu Phước"]:
        assert vn.sort_key(nfd(word)) == vn.sort_key(word)
    assert nfd("Ánh") != "Ánh"  # so the first check is not trivially about identical strings


def test_tone_on_either_vowel_ties_until_the_text_itself():
    # "Hòa" and "Hoà" are one name in two spellings: equal letters and tone, so they sit together
    names = sorted(["Hoàn", "Hoà", "Hoa", "Hòa", "Hóa"], key=vn.sort_key)
    assert names[:3] == ["Hoa", "Hoà", "Hòa"] and names[3:] == ["Hóa", "Hoàn"]
    assert vn.sort_key("Hoà")[:2] == vn.sort_key("Hòa")[:2]


def test_letters_outside_the_alphabet_sort_sensibly():
    assert sorted(["za", "wa", "ja", "fa", "ya", "ka", "ga", "ia", "va", "ea"], key=vn.sort_key) == [
        "ea", "fa", "ga", "ia", "ja", "ka", "va", "wa", "ya", "za"]
    assert vn.sort_key("Tổ 5") < vn.sort_key("Tổ 5.") < vn.sort_key("Tổ 6")  # punctuation only breaks ties
    assert vn.sort_key("Zoe") < vn.sort_key("Ольга")  # other scripts after z
    assert vn.sort_key("") < vn.sort_key("a")
    assert vn.sort_key("Çava")[0] == vn.sort_key("Cava")[0]  # ç sorts as c


def test_names_sort_by_given_name_then_family_and_middle():
    names = ["Trần Văn Bình", "Nguyễn Thị Ánh", "Lê Văn An", "Đỗ Thị An", "Nguyễn Văn Đức", "Phạm Văn Dũng",
             "Nguyễn Anh", "Bùi Thị Ân", "Hoàng Văn Ăn"]
    expected = ["Đỗ Thị An", "Lê Văn An", "Nguyễn Anh", "Nguyễn Thị Ánh", "Hoàng Văn Ăn", "Bùi Thị Ân",
                "Trần Văn Bình", "Phạm Văn Dũng", "Nguyễn Văn Đức"]
    assert sorted(names, key=vn.name_sort_key) == expected
    assert sorted(names, key=vn.sort_key) != expected  # by family name first it is another list
    # Đỗ before Lê for the same given name: the family names decide, in Vietnamese order (Đ after D, before L)
    assert sorted(["Lê An", "Đỗ An", "Dương An"], key=vn.name_sort_key) == ["Dương An", "Đỗ An", "Lê An"]
    assert vn.name_sort_key("") == (vn.sort_key(""), vn.sort_key(""))


@pytest.mark.parametrize(("value", "decimals", "vi", "en"), [
    (9255, 0, "9.255", "9,255"),
    (85.5, 1, "85,5", "85.5"),
    (1234567.891, 2, "1.234.567,89", "1,234,567.89"),
    (0.125, 2, "0,13", "0.13"),       # half up, on the number as written (binary 0.125 would round to even: 0.12)
    (2.675, 2, "2,68", "2.68"),       # binary 2.675 is 2.67499999... : format() gives 2.67
    (-1500, 0, "-1.500", "-1,500"),
    (-0.01, 1, "0,0", "0.0"),         # no "-0,0"
    (Decimal("7.5"), 0, "8", "8"),
    (0, 0, "0", "0"),
])
def test_numbers(value, decimals, vi, en):
    assert vn.number(value, decimals) == vi
    assert vn.number(value, decimals, lang="en") == en


def test_numbers_refuse_what_is_not_a_number():
    for bad in (True, "12", None):
        with pytest.raises(TypeError):
            vn.number(bad)
    with pytest.raises(ValueError):
        vn.number(1, lang="fr")
    with pytest.raises(ValueError):
        vn.number(float("nan"))
    with pytest.raises(ValueError):
        vn.percent(float("inf"))
    with pytest.raises(TypeError):
        vn.percent("85%")


@pytest.mark.parametrize(("value", "vi", "en"), [
    (0.855, "85,5%", "85.5%"),
    (1.0, "100%", "100%"),
    (0.9, "90%", "90%"),
    (0.8999, "90%", "90%"),     # whole once rounded: no ",0"
    (0.8765, "87,7%", "87.7%"),
    (0.0, "0%", "0%"),
    (2 / 3, "66,7%", "66.7%"),
    (None, "—", "—"),
])
def test_percent(value, vi, en):
    assert vn.percent(value) == vi
    assert vn.percent(value, lang="en") == en


def test_percent_decimals():
    assert vn.percent(0.87654, 2) == "87,65%"
    assert vn.percent(0.87654, 0) == "88%"


def test_dates():
    assert vn.date(dt.date(2026, 3, 5)) == "05/03/2026"
    assert vn.date(dt.datetime(2026, 11, 23, 14, 5)) == "23/11/2026"
    assert vn.date("2026-03-05") == "05/03/2026"
    assert vn.date(dt.date(2026, 3, 5), lang="en") == "2026-03-05"


@pytest.mark.parametrize(("day", "vi"), [
    (dt.date(2026, 3, 5), "Mê Linh, ngày 05 tháng 3 năm 2026"),     # day < 10: zero; month 3: none
    (dt.date(2026, 1, 9), "Mê Linh, ngày 09 tháng 01 năm 2026"),    # months 1 and 2 take a zero
    (dt.date(2018, 2, 20), "Mê Linh, ngày 20 tháng 02 năm 2018"),
    (dt.date(2026, 11, 23), "Mê Linh, ngày 23 tháng 11 năm 2026"),
    (dt.date(2026, 10, 10), "Mê Linh, ngày 10 tháng 10 năm 2026"),
])
def test_place_and_date_line(day, vi):
    assert vn.place_date("Mê Linh", day) == vi


def test_place_and_date_line_in_english():
    assert vn.place_date("Mê Linh", dt.date(2026, 3, 5), lang="en") == "Mê Linh, 5 March 2026"
