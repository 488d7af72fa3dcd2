"""The whole life of a cell meeting over HTTP, as a secretary does it step by step. Run on the embedded platform
(tests/service) and on the distributed cluster (tests/integration): the same requests, the same answers."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections.abc import Callable
from typing import Any

from services.client import ChiboClient

DAY = dt.date(2026, 1, 10)


def send(client: ChiboClient, path: str, body: dict[str, Any], status: int, key: str | None = None,
         service: str = "meetings") -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    r = client.session.post(f"{client.urls[service]}/{service}{path}", json=body,
                            headers=headers, timeout=client.timeout)
    assert r.status_code == status, (path, r.status_code, r.text)
    return r.json()


def refused(client: ChiboClient, path: str, body: dict[str, Any], field: str, rule: str | None,
            status: int = 422) -> dict[str, Any]:
    answer = send(client, path, body, status)
    assert answer["fields"][0]["field"] == field, answer
    if rule:
        assert answer["fields"][0]["rule"] == rule, answer
    return answer


def ward_with_cells(client: ChiboClient) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:4]
    ward = client.post("members", "/units", {"kind": "ward", "name": "Phường Tân Giang", "code": f"TG{tag}",
                                             "effective_from": "2020-01-01"})
    cells = [client.post("members", "/units", {"kind": "cell", "name": f"Chi bộ tổ {i}", "code": f"TG{tag}-{i}",
                                               "parent_id": ward["id"], "block": "residential",
                                               "effective_from": "2020-01-01"}) for i in (1, 2)]
    members = []
    for i in range(5):
        body = {"code": f"{tag}-{i}", "full_name": f"Nguyễn Văn {'ABCDE'[i]}", "cell_id": cells[0]["id"],
                "admitted_on": "2020-02-01"}
        if i < 4:
            body |= {"status": "official", "official_since": "2021-02-01"}
        members.append(client.post("members", "/members", body)["id"])
    other = client.post("members", "/members", {"code": f"{tag}-x", "full_name": "Lê Thị Khác",
                                                "cell_id": cells[1]["id"], "admitted_on": "2020-02-01",
                                                "status": "official", "official_since": "2021-02-01"})["id"]
    client.wait_caught_up()
    return {"cell": cells[0]["id"], "other_cell": cells[1]["id"], "m": members, "other": other}


SignIn = Callable[[str, str, str | None], str]  # (user, role, unit id) -> a token


def meeting_life(client: ChiboClient, sign_in: SignIn) -> dict[str, Any]:
    """Schedule, hold, record, vote, close, correct; every refusal a 4xx naming the field and the rule.

    `client` (a machine key) sets up the ward; each cell's secretary, signed in with `sign_in`, runs its
    meetings, and is refused (403) on the other cell's."""
    w = ward_with_cells(client)
    m, cell = w["m"], w["cell"]
    sec = client.as_user(sign_in("bí thư", "cell_secretary", cell))
    other_sec = client.as_user(sign_in("bí thư tổ 2", "cell_secretary", w["other_cell"]))
    base = {"cell_id": cell, "date": DAY.isoformat(), "start_time": "19:00", "place": "Nhà văn hóa"}
    refused(sec, "/meetings/schedule", base | {"kind": "thematic"}, "topic", "thematic.topic")
    meeting = send(sec, "/meetings/schedule", base, 201)
    mid = meeting["id"]
    assert meeting["status"] == "scheduled" and len(meeting["summoned"]) == 5
    url = f"/meetings/{mid}"
    hold = {"date": DAY.isoformat(), "start_time": "19:00", "end_time": "21:00", "chair_id": m[0],
            "minute_taker_id": m[1]}
    future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    refused(sec, f"{url}/hold", hold | {"date": future}, "date", "date.not_future")
    refused(sec, f"{url}/hold", hold | {"end_time": "18:00"}, "end_time", "time.end_after_start")
    held = send(sec, f"{url}/hold", hold, 200)
    assert held["status"] == "held" and {e["status"] for e in held["roster"]} == {"official", "probationary"}

    refused(sec, f"{url}/attendance", {"present": [w["other"]]}, "present.0", "attendance.roster")
    attendance = {"present": [*m[:3], m[4]], "absent": [{"member_id": m[3], "excused": True, "reason": "ốm"}]}
    first = send(sec, f"{url}/attendance", attendance, 200, key="att-1")
    again = send(sec, f"{url}/attendance", attendance, 200, key="att-1")  # a resubmitted form: once
    assert again == first and first["counts"]["present"] == 4
    refused(sec, f"{url}/attendance", {"present": [m[0]]}, "present.0", "attendance.once")
    send(sec, f"{url}/guests", {"guests": [{"guest_id": str(uuid.uuid4()), "full_name": "Đồng chí Đảng ủy viên"}]},
         200)
    send(sec, f"{url}/agenda-steps", {"steps": [{"step": "opening", "note": "thu đảng phí"},
                                                   {"step": "discussion"}]}, 200)
    refused(sec, f"{url}/agenda-steps", {"steps": [{"step": "news_and_policy"}]}, "step", "agenda.order")
    send(sec, f"{url}/speakers", {"speakers": [{"member_id": m[0], "gist": "Báo cáo <b>tình hình</b> tháng"}]},
         200)
    refusal = refused(sec, f"{url}/resolutions", {"text": "NQ", "votes_for": 2, "votes_against": 0,
                                                     "abstentions": 0, "voters": [m[0], m[4]]},
                      "voters.1", "vote.probationary")
    assert "Nguyễn Văn E" in refusal["message"]
    refused(sec, f"{url}/resolutions", {"text": "NQ", "votes_for": 1, "votes_against": 0, "abstentions": 0,
                                           "voters": [w["other"]]}, "voters.0", "vote.member")
    voted = send(sec, f"{url}/resolutions", {"text": "Vận động vệ sinh môi trường", "votes_for": 3,
                                                "votes_against": 0, "votes_abstain": 0, "voters": m[:3]}, 200)
    resolution = voted["resolutions"][0]
    assert resolution["adopted"] is True and resolution["voting_base"] == 4
    send(sec, f"{url}/dues", {"dues": [{"member_id": m[0], "month": "2026-01", "paid": True}]}, 200)
    version = send(sec, f"{url}/close", {}, 200)["version"]
    refused(sec, f"{url}/resolutions", {"text": "NQ", "votes_for": 1, "votes_against": 0, "abstentions": 0,
                                           "voters": [m[0]]}, "meeting_id", "meeting.closed")
    corrected = send(sec, f"{url}/corrections", {"path": "place", "value": "Hội trường UBND",
                                                    "reason": "ghi nhầm địa điểm", "expected_version": version},
                     200)
    assert corrected["place"] == "Hội trường UBND" and corrected["corrections"][0]["old_value"] == "Nhà văn hóa"
    refused(sec, f"{url}/corrections", {"path": "place", "value": "X", "reason": "y",
                                           "expected_version": version}, "expected_version", None, status=409)

    # a later meeting reviews the resolution; another cell's meeting may not
    later = send(sec, "/meetings", {"cell_id": cell, "date": (DAY + dt.timedelta(days=31)).isoformat(),
                                       "start_time": "19:00", "end_time": "20:30", "present": m,
                                       "agenda_steps": [{"step": "review_and_follow_up"}]}, 201)
    send(sec, f"/meetings/{later['id']}/reviews", {"resolution_id": resolution["resolution_id"],
                                                       "outcome": "partly", "note": "còn 2 hộ"}, 200)
    foreign_body = {"cell_id": w["other_cell"], "date": DAY.isoformat(), "start_time": "19:00", "end_time": "21:00",
                    "present": [w["other"]]}
    assert send(sec, "/meetings", foreign_body, 403)["fields"][0]["rule"] == "forbidden"  # not this secretary's cell
    foreign = send(other_sec, "/meetings", foreign_body, 201)
    assert send(sec, f"/meetings/{foreign['id']}/cancel", {"reason": "x"}, 403)["error"] == "rejected"
    assert sec.session.get(f"{sec.urls['meetings']}/meetings/meetings/{foreign['id']}").status_code == 403
    refused(other_sec, f"/meetings/{foreign['id']}/reviews", {"resolution_id": resolution["resolution_id"],
                                                           "outcome": "implemented"},
            "resolution_id", "review.same_cell")
    cancelled = send(sec, "/meetings/schedule", base | {"date": "2026-02-20"}, 201)
    assert send(sec, f"/meetings/{cancelled['id']}/cancel", {"reason": "bão"}, 200)["status"] == "cancelled"

    listed = client.get("meetings", f"/cells/{cell}/meetings", **{"from": "2026-01-01", "to": "2026-01-31"})
    assert [x["id"] for x in listed["meetings"]] == [mid]
    history = sec.get("meetings", f"/meetings/{mid}/history")["events"]
    assert history[-1]["type"] == "Corrected" and history[-1]["recorded_by"] == "bí thư"
    assert all(e["correlation_id"] for e in history)

    html = client.session.get(f"{client.urls['meetings']}/meetings/meetings/{mid}/minutes",
                              params={"format": "html"}, timeout=client.timeout)
    assert html.status_code == 200 and "Địa điểm" in html.text and "&lt;b&gt;tình hình&lt;/b&gt;" in html.text
    docx = client.session.get(f"{client.urls['meetings']}/meetings/meetings/{mid}/minutes",
                              params={"format": "docx"}, timeout=client.timeout)
    from docx import Document

    text = "\n".join(p.text for p in Document(io.BytesIO(docx.content)).paragraphs)
    assert "BIÊN BẢN SINH HOẠT CHI BỘ THƯỜNG KỲ" in text and "Vận động vệ sinh môi trường" in text

    client.wait_caught_up()
    published = [e["type"] for e in client.published("meetings")]
    for name in ("MeetingScheduled", "MeetingHeld", "MemberAttended", "MemberAbsent", "GuestAttended",
                 "AgendaStepCovered", "MemberSpoke", "ResolutionPassed", "DuesCollected", "MeetingClosed",
                 "MeetingCorrected", "ResolutionReviewed", "MeetingCancelled"):
        assert name in published, name
    rows = {r["month"]: r for r in client.cell_months("2026-01", "2026-01", cell)}
    assert (rows["2026-01"]["meetings"], rows["2026-01"]["present"], rows["2026-01"]["attendance_base"]) == (1, 4, 5)
    return {"meeting_id": mid, "cell": cell}
