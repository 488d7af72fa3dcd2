"""Minutes (biên bản) rendered in Vietnamese as DOCX (parsed back with python-docx) and as escaped HTML."""

import io

from docx import Document

from services.meetings.minutes import render_docx, render_html
from tests.unit.test_meeting_life import DAY, hold, schedule, vote, w  # noqa: F401 - w is the fixture


def closed_meeting(w):  # noqa: F811
    app, m = w["app"], w["m"]
    meeting = schedule(w)
    hold(w, meeting.id, place="<script>alert(1)</script> Nhà văn hóa")
    app.record_attendance(meeting.id, present=m[:5], by="s", absent=[
        {"member_id": m[5], "excused": True, "reason": "đi công tác"}, {"member_id": m[6], "excused": False}])
    app.record_speakers(meeting.id, speakers=[{"member_id": m[2], "gist": "Đề nghị sửa đường ngõ 5"}], by="s")
    vote(w, meeting.id, m[:5], against=1)
    app.close_meeting(meeting.id, by="s")
    app.correct(meeting.id, path="end_time", value="21:15", reason="ghi nhầm giờ kết thúc", by="Trần Thư Ký")
    app.correct(meeting.id, path=f"attendance.{m[6]}", value={"present": False, "excused": True, "reason": "ốm"},
                reason="đã báo ốm trước buổi họp", by="Trần Thư Ký")
    return app.meeting(meeting.id)


def test_docx_minutes_carry_the_fields_of_the_book(w):  # noqa: F811
    view = closed_meeting(w)
    doc = Document(io.BytesIO(render_docx(view, "Chi bộ tổ 5")))
    facts = {row.cells[0].text: row.cells[1].text for row in doc.tables[0].rows}
    assert facts["Chi bộ"] == "Chi bộ tổ 5"
    assert facts["Thời gian"] == (f"bắt đầu lúc 19 giờ 00 ngày {DAY:%d/%m/%Y}, kết thúc lúc 21 giờ 15 (135 phút)")
    assert facts["Chủ trì"] == "Thành viên 0" and facts["Thư ký"] == "Thành viên 1"
    assert facts["Có mặt/Tổng số"].startswith("5/7 đảng viên")
    # the record shows the corrected attendance; the correction itself is a signed later entry
    assert facts["Vắng có lý do"] == "Thành viên 5 (đi công tác); Thành viên 6 (ốm)"
    assert facts["Vắng không lý do"] == "không"
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "Thành viên 2: Đề nghị sửa đường ngõ 5" in text
    assert "4 tán thành, 1 không tán thành, 0 không biểu quyết, trên 6 đảng viên chính thức" in text
    assert "thông qua" in text
    assert "Đính chính" in text and "Giờ kết thúc: 21:00 → 21:15. Lý do: ghi nhầm giờ kết thúc. Người đính chính: " \
        "Trần Thư Ký" in text
    assert "Điểm danh Thành viên 6: vắng không lý do → vắng có lý do (ốm). Lý do: đã báo ốm trước buổi họp." in text


def test_html_minutes_escape_what_users_typed(w):  # noqa: F811
    html = render_html(closed_meeting(w), "Chi bộ <tổ 5>")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; Nhà văn hóa" in html
    assert "Chi bộ &lt;tổ 5&gt;" in html
    for label in ("Thời gian", "Địa điểm", "Chủ trì", "Thư ký", "Có mặt/Tổng số", "Vắng có lý do", "Ý kiến phát biểu",
                  "Kết luận và biểu quyết", "Đính chính"):
        assert label in html, label
