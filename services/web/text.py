"""The web app's words: Vietnamese first, English beside it. Keys are English identifiers."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from services.reporting import vietnamese
from shared import i18n

WORDS: dict[str, tuple[str, str]] = {
    "app": ("Sinh hoạt chi bộ", "Party-cell meetings"),
    "sign_in": ("Đăng nhập", "Sign in"),
    "sign_out": ("Đăng xuất", "Sign out"),
    "username": ("Tên đăng nhập", "User name"),
    "password": ("Mật khẩu", "Password"),
    "or_token": ("Hoặc dán mã truy cập (JWT)", "Or paste an access token (JWT)"),
    "token": ("Mã truy cập", "Access token"),
    "bad_login": ("Tên đăng nhập hoặc mật khẩu không đúng.", "The user name or the password is wrong."),
    "bad_token": ("Mã truy cập không hợp lệ", "The access token is not valid"),
    "throttled": ("Quá nhiều lần thử; hãy đợi {s} giây rồi thử lại.",
                  "Too many attempts; wait {s} seconds and try again."),
    "csrf": ("Biểu mẫu đã hết hạn; hãy tải lại trang và gửi lại.",
             "The form has expired; reload the page and send it again."),
    "signed_out": ("Đã đăng xuất.", "Signed out."),
    "dashboard": ("Bảng theo dõi", "Dashboard"),
    "members": ("Đảng viên", "Members"),
    "audit": ("Lịch sử", "Audit"),
    "cell": ("Chi bộ", "Cell"),
    "language": ("English", "Tiếng Việt"),
    "unit": ("Đơn vị", "Unit"),
    "period": ("Kỳ", "Period"),
    "show": ("Xem", "Show"),
    "target": ("Chỉ tiêu", "Target"),
    "by_block": ("Theo khối", "By block"),
    "by_child": ("Theo đơn vị trực thuộc", "By child unit"),
    "month_chart": ("Chi bộ sinh hoạt và tỷ lệ dự họp theo tháng", "Cells meeting and attendance by month"),
    "cells_met": ("Chi bộ có sinh hoạt thường kỳ", "Cells holding a regular meeting"),
    "attendance": ("Tỷ lệ dự sinh hoạt", "Attendance"),
    "export": ("Xuất báo cáo", "Export"),
    "flagged_export": ("Đảng viên cần xem xét", "Flagged members"),
    "month": ("Tháng", "Month"),
    "name": ("Tên", "Name"),
    "code": ("Mã", "Code"),
    "block": ("Khối", "Block"),
    "status": ("Trạng thái", "Status"),
    "date": ("Ngày", "Date"),
    "place": ("Địa điểm", "Place"),
    "kind": ("Loại", "Kind"),
    "topic": ("Chuyên đề", "Topic"),
    "start_time": ("Giờ bắt đầu", "Start"),
    "end_time": ("Giờ kết thúc", "End"),
    "chair": ("Chủ trì", "Chair"),
    "minute_taker": ("Thư ký", "Minute-taker"),
    "none": ("(không)", "(none)"),
    "drill_title": ("Chi tiết chỉ số", "Behind the figure"),
    "value": ("Giá trị", "Value"),
    "meetings": ("Buổi sinh hoạt", "Meetings"),
    "calendar": ("Lịch sinh hoạt", "Meetings calendar"),
    "roster": ("Danh sách đảng viên", "Roster"),
    "open_resolutions": ("Nghị quyết chờ kiểm điểm", "Resolutions awaiting review"),
    "flagged": ("Đảng viên cần xem xét", "Flagged members"),
    "schedule": ("Lên lịch buổi sinh hoạt", "Schedule a meeting"),
    "hold": ("Bắt đầu buổi sinh hoạt", "Hold the meeting"),
    "attendance_form": ("Điểm danh", "Attendance"),
    "present": ("Có mặt", "Present"),
    "absent_excused": ("Vắng có lý do", "Absent, excused"),
    "absent_unexcused": ("Vắng không lý do", "Absent, unexcused"),
    "reason": ("Lý do", "Reason"),
    "agenda": ("Trình tự sinh hoạt", "Agenda"),
    "note": ("Ghi chú", "Note"),
    "speakers": ("Phát biểu", "Speakers"),
    "speaker": ("Người phát biểu", "Speaker"),
    "gist": ("Nội dung chính", "Gist"),
    "resolutions": ("Nghị quyết và biểu quyết", "Resolutions and votes"),
    "resolution_text": ("Nội dung nghị quyết", "Resolution"),
    "votes_for": ("Tán thành", "For"),
    "votes_against": ("Không tán thành", "Against"),
    "abstentions": ("Không biểu quyết", "Abstentions"),
    "voters": ("Đảng viên chính thức biểu quyết", "Official members voting"),
    "adopted": ("Thông qua", "Adopted"),
    "rejected": ("Không thông qua", "Rejected"),
    "reviews": ("Kiểm điểm nghị quyết trước", "Reviews of earlier resolutions"),
    "outcome": ("Kết quả", "Outcome"),
    "close": ("Khóa sổ biên bản", "Close with minutes"),
    "cancel": ("Hủy buổi sinh hoạt", "Cancel the meeting"),
    "minutes": ("Biên bản", "Minutes"),
    "minutes_html": ("Xem / in biên bản", "View / print the minutes"),
    "minutes_docx": ("Tải biên bản (DOCX)", "Download the minutes (DOCX)"),
    "save": ("Ghi", "Save"),
    "recorded": ("Đã ghi.", "Recorded."),
    "errors": ("Chưa ghi được — kiểm tra các ô được đánh dấu:", "Not recorded — check the marked fields:"),
    "forbidden": ("Bạn không có quyền xem trang này.", "You may not open this page."),
    "not_found": ("Không tìm thấy trang.", "Page not found."),
    "bad_request": ("Yêu cầu không hợp lệ.", "The request is not valid."),
    "failed": ("Lỗi hệ thống; đã được ghi nhận.", "Internal error; it has been logged."),
    "search": ("Tìm (có dấu hoặc không dấu)", "Search (diacritics optional)"),
    "admit": ("Kết nạp / ghi nhận đảng viên", "Admit a member"),
    "admitted_on": ("Ngày vào Đảng", "Admitted on"),
    "official_since": ("Ngày chính thức", "Official since"),
    "full_name": ("Họ và tên", "Full name"),
    "import": ("Nhập danh sách từ bảng tính", "Import a register spreadsheet"),
    "dry_run": ("Chạy thử (không ghi)", "Dry run (nothing recorded)"),
    "apply": ("Ghi vào sổ", "Apply"),
    "choose_file": ("Hãy chọn tệp XLSX hoặc CSV.", "Choose an XLSX or CSV file."),
    "confirm": ("Công nhận chính thức", "Confirm as official"),
    "exempt": ("Miễn sinh hoạt", "Exempt"),
    "transfer": ("Chuyển sinh hoạt", "Transfer"),
    "remove": ("Xóa tên", "Remove"),
    "effective_from": ("Từ ngày", "From"),
    "to_cell": ("Đến chi bộ", "To cell"),
    "history": ("Lịch sử sự kiện", "Event history"),
    "who": ("Người ghi", "Recorded by"),
    "when": ("Thời điểm ghi", "Recorded at"),
    "event": ("Sự kiện", "Event"),
    "no_pages": ("Vai trò này không có trang nào trong ứng dụng web.", "This role has no pages in the web app."),
    "home": ("Trang chủ", "Home"),
    "count": ("Số lượng", "Count"),
    "total": ("Tổng", "Total"),
    "official": ("Chính thức", "Official"),
    "probationary": ("Dự bị", "Probationary"),
    "in_cell": ("Chi bộ", "Cell"),
    "summary": ("Tóm tắt theo lời văn báo cáo", "The report's sentences"),
    "whole_city": ("Toàn thành phố", "The whole city"),
    "skip_to": ("Chuyển đến nội dung chính", "Skip to the main content"),
}

FIGURES: dict[str, tuple[str, str]] = {  # the headline figures of design.md §5, in the roll-up's names
    "regular_every_month": ("Chi bộ sinh hoạt thường kỳ đủ các tháng", "Cells meeting every month"),
    "thematic_every_quarter": ("Chi bộ sinh hoạt chuyên đề mỗi quý", "Cells with a thematic meeting each quarter"),
    "attendance": ("Tỷ lệ đảng viên dự sinh hoạt", "Mean attendance"),
    "able_to_decide": ("Buổi sinh hoạt đủ điều kiện biểu quyết", "Meetings with a quorum"),
    "full_procedure": ("Buổi sinh hoạt đúng đủ quy trình", "Meetings with the full procedure"),
    "resolutions_reviewed_in_time": ("Nghị quyết được kiểm điểm đúng hạn", "Resolutions reviewed in time"),
    "supervisor_coverage": ("Cấp ủy viên phụ trách dự họp", "Supervisor coverage"),
    "participation": ("Đảng viên có mặt phát biểu", "Present members who spoke"),
    "flagged_members": ("Đảng viên cần xem xét", "Flagged members"),
    "cells_below_minimum": ("Chi bộ dưới 3 đảng viên chính thức", "Cells below 3 official members"),
    "meetings": ("Số buổi sinh hoạt", "Meetings held"),
    "cells": ("Số chi bộ", "Cells"),
}


COLUMNS: dict[str, tuple[str, str]] = {  # the drill-down's columns (the API's keys)
    "code": ("Mã", "Code"), "name": ("Tên", "Name"), "block": ("Khối", "Block"), "value": ("Đạt", "Met"),
    "months_due": ("Số tháng phải họp", "Months due"), "months_met": ("Số tháng đã họp", "Months met"),
    "quarters_due": ("Số quý phải họp", "Quarters due"), "quarters_met": ("Số quý đã họp", "Quarters met"),
    "date": ("Ngày", "Date"), "kind": ("Loại", "Kind"), "status": ("Trạng thái", "Status"),
    "minutes": ("Số phút", "Minutes"), "present": ("Có mặt", "Present"),
    "attendance_base": ("Phải dự", "Expected"), "full_name": ("Họ và tên", "Full name"),
    "cell_name": ("Chi bộ", "Cell"), "text": ("Nội dung", "Text"), "year": ("Năm", "Year"),
    "unexcused": ("Vắng không lý do", "Unexcused"), "excused": ("Vắng có lý do", "Excused"),
    "attended": ("Đã dự", "Attended"), "summoned": ("Được triệu tập", "Summoned"),
    "dues_unpaid": ("Tháng chưa đóng đảng phí", "Months unpaid"), "recorded_by": ("Người ghi", "Recorded by"),
    "able_to_decide": ("Đủ điều kiện biểu quyết", "Quorum"), "full_procedure": ("Đúng đủ quy trình", "Full procedure"),
    "duration_ok": ("Đủ thời lượng", "Long enough"), "supervisor_present": ("Cấp ủy viên dự", "Supervisor present"),
    "topic": ("Chuyên đề", "Topic"), "official": ("Đảng viên chính thức", "Official members"),
}


EVENTS_VI = {  # the audit view's event names: the services' own and reporting's (integration events)
    "Scheduled": "lên lịch", "MeetingScheduled": "lên lịch", "Held": "diễn ra", "HeldAsScheduled": "diễn ra",
    "MeetingHeld": "diễn ra", "Cancelled": "hủy", "MeetingCancelled": "hủy", "MemberAttended": "có mặt",
    "MemberAbsent": "vắng mặt", "GuestAttended": "khách mời dự", "AgendaStepCovered": "thực hiện bước sinh hoạt",
    "MemberSpoke": "phát biểu", "ResolutionPassed": "thông qua nghị quyết", "ResolutionRejected":
    "không thông qua nghị quyết", "ResolutionReviewed": "kiểm điểm nghị quyết", "DuesCollected": "thu đảng phí",
    "Closed": "khóa sổ biên bản", "MeetingClosed": "khóa sổ biên bản", "Corrected": "đính chính",
    "MeetingCorrected": "đính chính", "Created": "tạo", "OrgUnitCreated": "thành lập đơn vị", "Renamed": "đổi tên",
    "OrgUnitRenamed": "đổi tên", "Moved": "chuyển trực thuộc", "OrgUnitMoved": "chuyển trực thuộc",
    "MergedInto": "hợp nhất vào", "Absorbed": "tiếp nhận hợp nhất", "CellsMerged": "hợp nhất chi bộ",
    "Dissolved": "giải thể", "CellDissolved": "giải thể", "SupervisorAssigned": "phân công cấp ủy viên phụ trách",
    "SupervisorUnassigned": "thôi phân công phụ trách", "Admitted": "kết nạp / ghi nhận",
    "MemberAdmitted": "kết nạp / ghi nhận", "Officialized": "công nhận chính thức",
    "MemberOfficialized": "công nhận chính thức", "Exempted": "miễn sinh hoạt", "MemberExempted": "miễn sinh hoạt",
    "ExemptionLifted": "thôi miễn sinh hoạt", "MemberExemptionLifted": "thôi miễn sinh hoạt",
    "Transferred": "chuyển sinh hoạt", "MemberTransferred": "chuyển sinh hoạt",
    "TemporaryTransferEnded": "kết thúc sinh hoạt tạm thời", "MemberTemporaryTransferEnded":
    "kết thúc sinh hoạt tạm thời", "Removed": "xóa tên", "MemberRemoved": "xóa tên",
}


def event_name(kind: str, lang: str) -> str:
    """An event's name for people, with the stored name beside it (what an auditor searches for)."""
    if lang == "vi" and kind in EVENTS_VI:
        return f"{EVENTS_VI[kind]} ({kind})"
    return kind


def column(key: str, lang: str) -> str:
    vi, en = COLUMNS.get(key, (key.replace("_", " "), key.replace("_", " ")))
    return en if lang == "en" else vi


def t(key: str, lang: str, **values: Any) -> str:
    vi, en = WORDS.get(key, (key, key))
    text = en if lang == "en" else vi
    return text.format(**values) if values else text


def figure_label(name: str, lang: str) -> str:
    vi, en = FIGURES.get(name, (name, name))
    return en if lang == "en" else vi


def term(value: str | None, lang: str) -> str:
    """An enumerated value (a block, a status, an agenda step) in the user's language."""
    if lang == "en":
        return (value or "").replace("_", " ")
    return i18n.term(value)


def number(value: Any, lang: str, decimals: int = 0) -> str:
    if value is None:
        return "—"
    return vietnamese.number(value, decimals, lang=lang)


def percent(rate: float | None, lang: str) -> str:
    return "—" if rate is None else vietnamese.percent(rate, lang=lang)


def date(value: Any, lang: str) -> str:
    if not value:
        return ""
    return vietnamese.date(value, lang=lang)


def when(value: str | None, lang: str) -> str:
    """An ISO timestamp as a date and a time in Việt Nam (UTC+7)."""
    if not value:
        return ""
    moment = dt.datetime.fromisoformat(value).astimezone(dt.timezone(dt.timedelta(hours=7)))
    return f"{date(moment.date(), lang)} {moment:%H:%M}"


def fold(text: str) -> str:
    """Lower case without diacritics (đ as d): 'Nguyễn Văn Đức' and 'nguyen van duc' match."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def sort_key(text: str) -> Any:
    return vietnamese.sort_key(text or "")


def name_key(full_name: str) -> Any:
    return vietnamese.name_sort_key(full_name or "")
