"""User-facing language: Vietnamese by default, English on request (`?lang=en` or `Accept-Language: en`).

Domain errors carry both texts at the place they are raised (`DomainError(..., vi=...)`); validation errors
from pydantic are translated here by their error type. Field names and rule codes stay English: they are
identifiers a client (the web app of issue 9) can key on.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

LANGUAGES = ("vi", "en")
DEFAULT = "vi"

# The language of the request being answered (each greenthread has its own context).
current: ContextVar[str] = ContextVar("chibo_language", default=DEFAULT)


def negotiate(query_lang: str | None, accept_language: str | None) -> str:
    """`?lang=` wins; then the first supported language in Accept-Language; else Vietnamese."""
    if query_lang and query_lang.lower()[:2] in LANGUAGES:
        return query_lang.lower()[:2]
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT


# Vietnamese names of the enumerated values that appear in messages.
TERMS_VI = {
    "city": "thành phố", "district": "quận/huyện", "ward": "phường", "commune": "xã",
    "base_organisation": "tổ chức cơ sở đảng", "cell": "chi bộ", "nothing": "không thuộc đơn vị nào",
    "residential": "khối xã, phường", "administrative": "khối cơ quan hành chính, sự nghiệp",
    "enterprise": "khối doanh nghiệp", "armed_forces": "khối lực lượng vũ trang",
    "regular": "thường kỳ", "thematic": "chuyên đề", "combined": "thường kỳ kết hợp chuyên đề",
    "probationary": "dự bị", "official": "chính thức", "member": "đảng viên", "unit": "đơn vị",
    "exempted": "miễn sinh hoạt", "temporarily_elsewhere": "sinh hoạt tạm thời nơi khác",
    "new": "mới", "scheduled": "đã lên lịch", "held": "đã diễn ra", "closed": "đã khóa sổ", "cancelled": "đã hủy",
    "opening": "khai mạc", "news_and_policy": "thông tin thời sự, chính sách",
    "review_and_follow_up": "kiểm điểm tháng trước và nghị quyết trước",
    "ho_chi_minh_study": "học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh",
    "discussion": "thảo luận", "praise_and_criticism": "biểu dương, phê bình",
    "next_month_tasks": "nhiệm vụ tháng tới và phân công", "conclusion_and_vote": "kết luận và biểu quyết",
    "minutes_read": "thông qua biên bản", "ordinary": "thông thường", "admission": "kết nạp đảng viên",
    "confirmation": "công nhận đảng viên chính thức", "implemented": "đã thực hiện", "partly": "thực hiện một phần",
    "not_implemented": "chưa thực hiện",
}


def term(value: str | None) -> str:
    return TERMS_VI.get(value or "nothing", value or "")


PYDANTIC_VI: dict[str, str] = {
    "missing": "bắt buộc phải có",
    "extra_forbidden": "trường này không được phép",
    "string_type": "phải là chuỗi ký tự",
    "string_too_short": "quá ngắn (ít nhất {min_length} ký tự)",
    "string_too_long": "quá dài (tối đa {max_length} ký tự)",
    "string_pattern_mismatch": "có ký tự không hợp lệ",
    "uuid_parsing": "không phải mã định danh (UUID) hợp lệ",
    "uuid_type": "không phải mã định danh (UUID) hợp lệ",
    "date_parsing": "không phải ngày hợp lệ (YYYY-MM-DD)",
    "date_from_datetime_parsing": "không phải ngày hợp lệ (YYYY-MM-DD)",
    "date_type": "không phải ngày hợp lệ (YYYY-MM-DD)",
    "time_parsing": "không phải giờ hợp lệ (HH:MM)",
    "time_type": "không phải giờ hợp lệ (HH:MM)",
    "datetime_parsing": "không phải thời điểm hợp lệ",
    "literal_error": "phải là một trong: {expected}",
    "enum": "phải là một trong: {expected}",
    "bool_parsing": "phải là true hoặc false",
    "bool_type": "phải là true hoặc false",
    "int_parsing": "phải là số nguyên",
    "int_type": "phải là số nguyên",
    "greater_than_equal": "phải lớn hơn hoặc bằng {ge}",
    "less_than_equal": "phải nhỏ hơn hoặc bằng {le}",
    "list_type": "phải là một danh sách",
    "too_long": "quá nhiều phần tử (tối đa {max_length})",
    "model_type": "phải là một đối tượng JSON",
    "model_attributes_type": "phải là một đối tượng JSON",
    "dict_type": "phải là một đối tượng JSON",
    "value_error": "giá trị không hợp lệ",
}


def validation_message(error: dict[str, Any], lang: str) -> str:
    """One pydantic error in the user's language."""
    if lang == "en":
        return str(error["msg"])
    template = PYDANTIC_VI.get(error["type"])
    if template is None:
        return str(error["msg"])
    context = {k: v for k, v in (error.get("ctx") or {}).items()}
    try:
        return template.format(**context)
    except (KeyError, IndexError):
        return template.split(" (")[0]


def vn_date(day: Any) -> str:
    """A date as Vietnamese write it: 05/01/2026."""
    return day.strftime("%d/%m/%Y")
