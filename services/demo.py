"""The demo scenario: a sample ward with a year of cell meetings, recorded through the HTTP APIs.

Deterministic for a given seed, so the embedded and the distributed runs can be compared figure by figure.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from services.client import ChiboClient

FIRST_NAMES = ["Nguyễn Văn", "Trần Thị", "Lê Văn", "Phạm Thị", "Hoàng Văn", "Vũ Thị", "Đặng Văn", "Bùi Thị",
               "Đỗ Văn", "Ngô Thị", "Dương Văn", "Lý Thị"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Giang", "Hà", "Hải", "Hùng", "Khánh", "Lan", "Linh", "Minh", "Nam",
         "Ngọc", "Phong", "Quang", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Việt", "Xuân", "Yến"]
CELLS = [  # code, name, block, members
    ("KP1", "Chi bộ Khu phố 1", "residential", 14),
    ("KP2", "Chi bộ Khu phố 2", "residential", 11),
    ("KP3", "Chi bộ Khu phố 3", "residential", 9),
    ("THCS", "Chi bộ Trường THCS Tân Giang", "administrative", 8),
    ("YT", "Chi bộ Trạm Y tế", "administrative", 5),
]


@dataclass
class Person:
    """The client's own account of one member, to know what each meeting's roster must say on a day."""

    id: str
    cell_id: str
    admitted_on: dt.date
    official_since: dt.date | None
    exempt_from: dt.date | None = None
    away: tuple[str, dt.date, dt.date] | None = None  # temporarily in another cell: host cell id, [from, until)
    removed_on: dt.date | None = None
    moved: tuple[str, dt.date] | None = None  # home cell from a date on (its cell merged into another)

    def cell_on(self, day: dt.date) -> str:
        """The member's home cell on `day`."""
        return self.moved[0] if self.moved is not None and day >= self.moved[1] else self.cell_id

    def status_on(self, day: dt.date) -> str | None:
        """The member's status on the home cell's roster on `day`, None when not on it."""
        if day < self.admitted_on or (self.removed_on is not None and day >= self.removed_on):
            return None
        if self.away is not None and self.away[1] <= day < self.away[2]:
            return "temporarily_elsewhere"
        if self.exempt_from is not None and day >= self.exempt_from:
            return "exempted"
        return "official" if self.official_on(day) else "probationary"

    def official_on(self, day: dt.date) -> bool:
        return self.official_since is not None and self.official_since <= day


@dataclass
class Story:
    """What the register's and the meetings' life recorded, for the summary and the tests."""

    supervisors: dict[str, list[str]] = field(default_factory=dict)  # supervisor id -> cell ids followed
    exempted: str = ""  # member exempted for age part-way through the year
    exempted_from: dt.date | None = None
    temporary: str = ""  # member temporarily active in another cell
    temporary_host: str = ""
    confirmed: str = ""  # probationary member confirmed as official
    admitted: str = ""  # admitted after the cell's admission resolution
    removed: str = ""  # moved away late in the year
    resubmitted: str = ""  # meeting whose attendance and dues forms were sent twice with the same key
    minutes_meeting: str = ""  # a closed meeting whose minutes the demo points to
    step_by_step: int = 0
    one_form: int = 0
    closed: int = 0
    passed: int = 0
    rejected: int = 0
    supervised: int = 0  # held meetings the cell's assigned supervisor attended
    held: int = 0


@dataclass(frozen=True)
class ExpectedMeeting:
    """One meeting as the scenario sent it, counted on the client side under design.md §2's rules (not with
    services.meetings.counting): attendance base = summoned members, minus those temporarily active in another
    cell, minus exempted members who are absent; voting base = the official members of the attendance base
    (an exempted official member who attends is in it); official present = the voting base's members present."""

    cell_code: str
    date: dt.date
    kind: str  # regular | thematic | combined
    present: int
    attendance_base: int
    voting_base: int
    official_present: int

    @property
    def month(self) -> str:
        return self.date.strftime("%Y-%m")


def count_meeting(cell_code: str, day: dt.date, kind: str, roster: list[tuple[Person, str]],
                  present: set[str]) -> ExpectedMeeting:
    """The figures of one meeting from its roster (each member with the status on the day) and who came."""
    base = [p for p, status in roster
            if status != "temporarily_elsewhere" and not (status == "exempted" and p.id not in present)]
    voting = [p for p in base if p.official_on(day)]
    return ExpectedMeeting(cell_code, day, kind, sum(p.id in present for p in base), len(base), len(voting),
                           sum(p.id in present for p in voting))


@dataclass
class DemoResult:
    ward_id: str
    year: int
    commands: int
    seconds: float
    events: int
    # What the scenario sent, computed on the client side: (cell code, month) -> (meetings, present, base), the
    # base following the counting rules (design.md §2): summoned members, minus those temporarily active in
    # another cell, minus exempted members who are absent.
    expected: dict[tuple[str, str], tuple[int, int, int]]
    story: Story = field(default_factory=Story)
    meetings: list[ExpectedMeeting] = field(default_factory=list)  # each meeting sent, with its figures
    cell_ids: dict[str, str] = field(default_factory=dict)  # cell code -> id


AGENDA = [  # the steps of a regular meeting in order (policy required_agenda_steps), with a note each
    ("opening", "Kiểm tra số lượng đảng viên, thông qua chương trình, cử thư ký"),
    ("news_and_policy", "Thông tin thời sự trong nước, của thành phố và của phường"),
    ("review_and_follow_up", "Đánh giá việc thực hiện nghị quyết tháng trước"),
    ("ho_chi_minh_study", "Học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh"),
    ("discussion", "Thảo luận nhiệm vụ của chi bộ"),
    ("praise_and_criticism", "Biểu dương đảng viên tiêu biểu, nhắc nhở đảng viên vắng không lý do"),
    ("next_month_tasks", "Phân công nhiệm vụ tháng tới"),
    ("conclusion_and_vote", "Đồng chí bí thư kết luận, chi bộ biểu quyết nghị quyết"),
    ("minutes_read", "Thư ký đọc biên bản, chi bộ thông qua"),
]
GISTS = ["Đề nghị tăng cường vận động nhân dân giữ gìn vệ sinh môi trường khu dân cư.",
         "Báo cáo tình hình an ninh trật tự trên địa bàn, đề nghị duy trì tổ tự quản.",
         "Góp ý dự thảo nghị quyết, đề nghị nêu rõ người phụ trách từng việc.",
         "Đề nghị chi bộ quan tâm thăm hỏi các gia đình chính sách dịp lễ.",
         "Phản ánh ý kiến của bà con về việc sửa chữa đường hẻm.",
         "Đề nghị đẩy mạnh chuyển đổi số, hướng dẫn người dân dùng dịch vụ công trực tuyến."]
RESOLUTIONS = ["Vận động nhân dân giữ gìn vệ sinh môi trường, ra quân dọn dẹp vào chủ nhật cuối tháng",
               "Duy trì tổ tự quản an ninh trật tự, phân công đảng viên phụ trách từng tổ dân phố",
               "Thăm hỏi, tặng quà các gia đình chính sách và hộ khó khăn",
               "Hướng dẫn người dân nộp hồ sơ dịch vụ công trực tuyến",
               "Vận động đóng góp quỹ khuyến học của khu phố"]
GUEST_GIST = "Ghi nhận kết quả của chi bộ, đề nghị bám sát nghị quyết của Đảng ủy phường."
VISITOR_GIST = "Xin ý kiến chi bộ nơi sinh hoạt tạm thời, báo cáo việc thực hiện nhiệm vụ được giao."
# Meetings always held and recorded step by step, (cell index, month) -> the quarter's extra resolution, if any:
# Trường THCS's June meeting proposes confirming its probationary member, Khu phố 1's September meeting admitting
# a new member; Khu phố 1's April meeting (a member of Khu phố 2 there temporarily) is the minutes example.
SPECIAL: dict[tuple[int, int], tuple[str, str] | None] = {
    (3, 6): ("confirmation", "Đề nghị công nhận đảng viên chính thức cho đồng chí đảng viên dự bị của chi bộ"),
    (0, 9): ("admission", "Đề nghị kết nạp quần chúng Trịnh Thị Mai vào Đảng"),
    (0, 4): None,
}
MINUTES_EXAMPLE = (0, 4)
ELSEWHERE = "đang sinh hoạt tạm thời ở chi bộ khác"
EXEMPT_ABSENT = "được miễn sinh hoạt (tuổi cao)"


class Poster:
    """POSTs commands, each with an idempotency key of the client's own (unique per run, like a form's)."""

    def __init__(self, client: ChiboClient):
        self.client = client
        self.count = 0
        self.nonce = uuid.uuid4().hex[:8]

    def __call__(self, service: str, path: str, body: dict[str, Any], key: str | None = None) -> Any:
        self.count += 1
        return self.client.post(service, path, body, key=f"{self.nonce}-{self.count}" if key is None else key)


WARD_NAME = "Đảng bộ phường Tân Giang"


def build_ward(client: ChiboClient, year: int, seed: int = 1, ward_code: str = "TG",
               step_share: float = 0.75, parent_id: str | None = None) -> DemoResult:
    """Create the ward (under `parent_id`, if given), its cells and members, then live a year: supervision, an
    exemption, a temporary transfer, a confirmation, an admission and a removal on the register, and monthly
    meetings, most recorded step by step as a secretary would (schedule, hold, attendance, guests, agenda,
    speakers, resolution, review, dues, close), the others in one command. `step_share`: the share of meetings
    recorded step by step."""
    rng = random.Random(seed)
    started = time.monotonic()
    post = Poster(client)
    founded = dt.date(year - 3, 1, 1)
    ward = post("members", "/units", {"kind": "ward", "name": WARD_NAME, "code": ward_code,
                                      "effective_from": founded.isoformat()}
                | ({"parent_id": parent_id} if parent_id else {}))
    cells: list[tuple[str, str, list[Person]]] = []
    for c, (code, name, block, size) in enumerate(CELLS):
        cell = post("members", "/units", {"kind": "cell", "name": name, "code": f"{ward_code}-{code}",
                                          "parent_id": ward["id"], "block": block,
                                          "effective_from": founded.isoformat()})
        people = []
        for i in range(size):
            admitted = founded + dt.timedelta(days=rng.randrange(0, 400))
            official = i < size - 2 or rng.random() < 0.5  # most are official, a few still probationary
            if c == 3 and i == size - 1:  # admitted a year before: confirmed in the demo year
                admitted, official = dt.date(year - 1, 6, 1), False
            body: dict[str, Any] = {
                "code": f"{ward_code}-{code}-{i + 1:02d}",
                "full_name": f"{rng.choice(FIRST_NAMES)} {rng.choice(GIVEN)}",
                "cell_id": cell["id"],
                "admitted_on": admitted.isoformat(),
            }
            since = None
            if official:
                since = admitted.replace(year=admitted.year + 1) + dt.timedelta(days=5)
                body |= {"status": "official", "official_since": since.isoformat()}
            if c == 2 and i == 2:
                body["born_on"] = dt.date(year - 84, 3, 2).isoformat()  # the elderly member, exempted below
            people.append(Person(post("members", "/members", body)["id"], cell["id"], admitted, since))
        cells.append((cell["id"], f"{ward_code}-{code}", people))
    # The year's calendar first (the register's life refers to meeting days): None = the cell missed the month.
    days: dict[tuple[int, int], dt.date | None] = {}
    for c in range(len(cells)):
        for month in range(1, 13):
            forced = (c, month) in SPECIAL
            days[(c, month)] = None if rng.random() < 0.06 and not forced else dt.date(
                year, month, rng.randrange(5, 26))
    story = Story()
    live_register(post, year, cells, days, story)
    client.wait_caught_up()  # the meetings service needs the rosters before meetings can be recorded
    meetings = hold_meetings(post, year, cells, days, story, rng, step_share)
    client.wait_caught_up()
    seconds = time.monotonic() - started
    events = sum(len(client.published(s)) for s in ("members", "meetings"))
    expected = {(code, f"{year}-{m:02d}"): (0, 0, 0) for _, code, _ in cells for m in range(1, 13)}
    for meeting in meetings:
        expected[(meeting.cell_code, meeting.month)] = (1, meeting.present, meeting.attendance_base)
    return DemoResult(ward["id"], year, post.count, seconds, events, expected, story, meetings,
                      {code: cell_id for cell_id, code, _ in cells})


def live_register(post: Any, year: int, cells: list[tuple[str, str, list[Person]]],
                  days: dict[tuple[int, int], dt.date | None], story: Story) -> None:
    """The register's year, in date order: supervision, a temporary transfer, a confirmation, an exemption,
    an admission and a removal, each recorded with a date inside the demo year."""
    kp1, kp2, kp3, thcs, yt = cells
    supervisors = {kp1[2][0].id: [kp2[0], kp3[0], yt[0]], kp2[2][0].id: [kp1[0], thcs[0]]}
    for supervisor, followed in supervisors.items():
        for cell_id in followed:
            post("members", "/supervisors", {"supervisor_id": supervisor, "cell_id": cell_id,
                                             "effective_from": dt.date(year, 1, 2).isoformat()})
        story.supervisors[supervisor] = followed
    visitor = kp2[2][3]  # works in Khu phố 1 for three months (sinh hoạt tạm thời)
    visitor.away = (kp1[0], dt.date(year, 3, 1), dt.date(year, 6, 1))
    post("members", f"/members/{visitor.id}/transfer", {
        "to_cell_id": kp1[0], "kind": "temporary", "effective_from": visitor.away[1].isoformat(),
        "until": visitor.away[2].isoformat()})
    story.temporary, story.temporary_host = visitor.id, kp1[0]
    probationer = thcs[2][-1]  # the cell votes in June; the ward committee decides ten days later
    vote_day = days[(3, 6)]
    assert vote_day is not None
    probationer.official_since = vote_day + dt.timedelta(days=10)
    post("members", f"/members/{probationer.id}/confirm", {"official_since": probationer.official_since.isoformat()})
    story.confirmed = probationer.id
    elder = kp3[2][2]
    elder.exempt_from = story.exempted_from = dt.date(year, 7, 1)
    post("members", f"/members/{elder.id}/exempt", {"reason": "age", "note": "Đảng viên trên 80 tuổi, sức khỏe yếu",
                                                    "effective_from": elder.exempt_from.isoformat()})
    story.exempted = elder.id
    admission_day = days[(0, 9)]
    assert admission_day is not None
    newcomer = dt.date.fromordinal(admission_day.toordinal() + 14)  # the ward's decision after the cell's vote
    answer = post("members", "/members", {"code": f"{kp1[1]}-{len(kp1[2]) + 1:02d}", "full_name": "Trịnh Thị Mai",
                                          "cell_id": kp1[0], "admitted_on": newcomer.isoformat()})
    kp1[2].append(Person(answer["id"], kp1[0], newcomer, None))
    story.admitted = answer["id"]
    leaver = kp2[2][5]
    leaver.removed_on = dt.date(year, 11, 1)
    post("members", f"/members/{leaver.id}/remove", {"reason": "moved_away", "note": "Chuyển về quê sinh sống",
                                                     "effective_from": leaver.removed_on.isoformat()})
    story.removed = leaver.id


def hold_meetings(post: Any, year: int, cells: list[tuple[str, str, list[Person]]],
                  days: dict[tuple[int, int], dt.date | None], story: Story, rng: random.Random,
                  step_share: float) -> list[ExpectedMeeting]:
    """A meeting per cell and month (unless missed); return the meetings sent, with their figures."""
    sent: list[ExpectedMeeting] = []
    followed_by = {cell_id: sid for sid, followed in story.supervisors.items() for cell_id in followed}
    visitors = [p for _, _, people in cells for p in people if p.away]
    for c, (cell_id, cell_code, people) in enumerate(cells):
        attends = 0.97 if CELLS[c][2] == "administrative" else 0.88  # the school and the clinic rarely miss one
        last_resolution: str | None = None
        for month in range(1, 13):
            day = days[(c, month)]
            if day is None:
                last_resolution = None
                continue
            kind = "combined" if month % 3 == 0 else "regular"
            roster = [(p, s) for p in people if (s := p.status_on(day)) is not None]
            present, absent = [], []
            for p, status in roster:
                r = rng.random()
                if status == "temporarily_elsewhere":
                    absent.append({"member_id": p.id, "excused": True, "reason": ELSEWHERE})
                elif status == "exempted" and month < 12:  # the exempted member comes to the year-end meeting
                    absent.append({"member_id": p.id, "excused": True, "reason": EXEMPT_ABSENT})
                elif r < attends:
                    present.append(p.id)
                elif r < attends + (1 - attends) * 0.75:
                    absent.append({"member_id": p.id, "excused": True, "reason": rng.choice(
                        ["ốm", "đi công tác", "việc gia đình"])})
                else:
                    absent.append({"member_id": p.id, "excused": False})
            sent.append(count_meeting(cell_code, day, kind, roster, set(present)))
            comes = rng.random() < 0.85 or (c, month) in SPECIAL  # the supervisor attends most meetings
            supervisor = followed_by.get(cell_id) if comes else None
            facts = {
                "cell_id": cell_id, "kind": kind, "date": day.isoformat(),
                "topic": "Học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh" if kind != "regular" else None,
                "start_time": "19:30", "place": "Nhà văn hóa",
            }
            end = "21:45" if kind == "combined" else "21:00"
            guests = [{"guest_id": supervisor}] if supervisor else []
            story.held += 1
            if (c, month) not in SPECIAL and rng.random() >= step_share:
                view = post("meetings", "/meetings", facts | {"end_time": end, "present": present,
                                                              "absent": absent, "guests": guests})
                story.one_form += 1
                last_resolution = None
            else:
                story.step_by_step += 1
                visitor = [p.id for p in visitors if p.away and p.away[0] == cell_id and p.away[1] <= day < p.away[2]]
                voters = [p.id for p, s in roster if p.id in present and p.official_on(day)]
                view = record_step_by_step(post, c, month, day, facts, end, present, absent, guests, visitor,
                                           voters, last_resolution, story, rng)
                last_resolution = view["resolutions"][0]["resolution_id"] if view["resolutions"] else None
            # the summary counts what the meetings service recorded, as it answered
            story.supervised += any(g["is_assigned_supervisor"] for g in view["guests"])
            story.closed += view["status"] == "closed"
            story.passed += sum(1 for r in view["resolutions"] if r["adopted"])
            story.rejected += sum(1 for r in view["resolutions"] if not r["adopted"])
            if (c, month) == MINUTES_EXAMPLE:
                story.minutes_meeting = view["id"]
    return sent


def record_step_by_step(post: Any, c: int, month: int, day: dt.date, facts: dict[str, Any], end: str,
                        present: list[str], absent: list[dict[str, Any]], guests: list[dict[str, Any]],
                        visitor: list[str], voters: list[str], last_resolution: str | None, story: Story,
                        rng: random.Random) -> dict[str, Any]:
    """One meeting as a secretary records it, form after form; return the meeting as it stands at the end."""
    meeting = post("meetings", "/meetings/schedule", facts)
    path = f"/meetings/{meeting['id']}"
    post("meetings", f"{path}/hold", {"date": facts["date"], "start_time": facts["start_time"], "end_time": end,
                                      "place": facts["place"], "chair_id": voters[0] if voters else None,
                                      "minute_taker_id": voters[1] if len(voters) > 1 else None})
    attendance = {"present": present, "absent": absent}
    first = post("meetings", f"{path}/attendance", attendance, key=f"{meeting['id']}-attendance")
    if not story.resubmitted:  # the secretary's browser sends the form again: recorded once
        again = post("meetings", f"{path}/attendance", attendance, key=f"{meeting['id']}-attendance")
        if again["version"] != first["version"]:
            raise RuntimeError(f"a resubmitted attendance form was recorded twice on meeting {meeting['id']}")
        story.resubmitted = meeting["id"]
    if guests:
        post("meetings", f"{path}/guests", {"guests": guests})
    skip = rng.choice(AGENDA[1:-1])[0] if rng.random() < 0.15 else None  # now and then a step is left out
    post("meetings", f"{path}/agenda-steps", {"steps": [{"step": s, "note": n} for s, n in AGENDA if s != skip]})
    speakers = [{"member_id": m, "gist": rng.choice(GISTS)} for m in rng.sample(present, min(3, len(present)))]
    speakers += [{"member_id": g["guest_id"], "gist": GUEST_GIST} for g in guests]
    speakers += [{"member_id": v, "gist": VISITOR_GIST} for v in visitor]
    if speakers:
        post("meetings", f"{path}/speakers", {"speakers": speakers})
    # Now and then the cell turns a proposal down; in a larger meeting someone may vote against.
    against = len(voters) // 2 + 1 if rng.random() < 0.05 else int(len(voters) >= 6 and rng.random() < 0.3)
    post("meetings", f"{path}/resolutions", {
        "text": RESOLUTIONS[(c + month) % len(RESOLUTIONS)], "kind": "ordinary", "votes_for": len(voters) - against,
        "votes_against": against, "abstentions": 0, "voters": voters})
    special = SPECIAL.get((c, month))
    if special:
        post("meetings", f"{path}/resolutions", {"text": special[1], "kind": special[0], "votes_for": len(voters),
                                                 "votes_against": 0, "abstentions": 0, "voters": voters})
    if last_resolution:
        post("meetings", f"{path}/reviews", {"resolution_id": last_resolution, "outcome": rng.choice(
            ["implemented", "implemented", "partly"]), "note": "Chi bộ đánh giá việc thực hiện nghị quyết tháng trước"})
    month_key = day.strftime("%Y-%m")
    dues = {"dues": [{"member_id": m, "month": month_key, "paid": True} for m in present]}
    if present:
        first = post("meetings", f"{path}/dues", dues, key=f"{meeting['id']}-dues")
        if story.resubmitted == meeting["id"]:
            again = post("meetings", f"{path}/dues", dues, key=f"{meeting['id']}-dues")
            if again["version"] != first["version"]:
                raise RuntimeError(f"a resubmitted dues form was recorded twice on meeting {meeting['id']}")
    return post("meetings", f"{path}/close", {})


# ---- a district: the ward above, under a district committee, with communes, an administrative body and an
# enterprise, their meetings recorded in one form each ------------------------------------------------------

CITY = ("HN", "Thành ủy Hà Nội")
DISTRICT = ("ML", "Huyện ủy Mê Linh (mẫu)")
# The district's other base organisations: code, kind, name, block of its cells, cells (code, name, members).
BASE_ORGS: list[tuple[str, str, str, str, list[tuple[str, str, int]]]] = [
    ("TP", "commune", "Đảng bộ xã Tiền Phong", "residential", [
        ("DONG", "Chi bộ thôn Đông", 14), ("DOAI", "Chi bộ thôn Đoài", 12), ("TRUNG", "Chi bộ thôn Trung", 10),
        ("NAM", "Chi bộ thôn Nam", 9)]),
    ("DT", "commune", "Đảng bộ xã Đại Thịnh", "residential", [
        ("THUONG", "Chi bộ thôn Thượng", 13), ("HA", "Chi bộ thôn Hạ", 6), ("GIUA", "Chi bộ thôn Giữa", 11),
        ("DINH", "Chi bộ thôn Đình", 9)]),
    ("CQ", "base_organisation", "Đảng bộ Cơ quan Ủy ban nhân dân huyện", "administrative", [
        ("VP", "Chi bộ Văn phòng HĐND và UBND", 8), ("TCKH", "Chi bộ Phòng Tài chính - Kế hoạch", 6),
        ("GD", "Chi bộ Phòng Giáo dục và Đào tạo", 7)]),
    ("DN", "base_organisation", "Đảng bộ Công ty Cổ phần May Mê Linh (mẫu)", "enterprise", [
        ("PX1", "Chi bộ Phân xưởng may 1", 11), ("PX2", "Chi bộ Phân xưởng may 2", 9),
        ("VP", "Chi bộ Khối văn phòng", 7)]),
]
MERGER = ("DT", "HA", "GIUA", 7)  # base organisation, source cell, target cell, month from whose 1st day
# block -> (chance a member attends, chance the cell misses a month's regular meeting)
BLOCK_HABITS = {"residential": (0.85, 0.05), "administrative": (0.995, 0.0), "enterprise": (0.93, 0.04)}
THEMATIC_TOPICS = ["Học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh",
                   "Chuyển đổi số trong công tác của chi bộ", "Xây dựng nông thôn mới kiểu mẫu",
                   "Phòng, chống tham nhũng, lãng phí"]


@dataclass(frozen=True)
class BaseOrg:
    """A base organisation of the district (tổ chức cơ sở đảng)."""

    id: str
    code: str
    kind: str
    name: str


@dataclass(frozen=True)
class DistrictCell:
    id: str
    code: str
    name: str
    block: str
    base_org: str  # its base organisation's code
    merged_into: str | None = None  # the code of the cell it merged into, from `merged_on`
    merged_on: dt.date | None = None


@dataclass(frozen=True)
class CellMonthFigures:
    """Expected per cell and month, summed over the month's meetings (regular, thematic and combined alike);
    `regular_held` counts regular and combined meetings, `thematic_held` thematic and combined ones."""

    meetings: int = 0
    regular_held: int = 0
    thematic_held: int = 0
    present: int = 0
    attendance_base: int = 0
    voting_base: int = 0
    official_present: int = 0


@dataclass
class DistrictResult:
    district_id: str
    city_id: str
    year: int
    base_orgs: dict[str, BaseOrg]  # by code (the ward's included)
    cells: dict[str, DistrictCell]  # by code
    commands: int
    events: int
    seconds: float
    meetings: list[ExpectedMeeting]  # every meeting sent, the ward's included, with its client-side figures
    ward: DemoResult

    def cell_months(self) -> dict[tuple[str, str], CellMonthFigures]:
        """(cell code, YYYY-MM) -> the expected figures, for every cell and month of the year."""
        out = {(code, f"{self.year}-{m:02d}"): CellMonthFigures() for code in self.cells for m in range(1, 13)}
        for m in self.meetings:
            f = out[(m.cell_code, m.month)]
            out[(m.cell_code, m.month)] = CellMonthFigures(
                f.meetings + 1, f.regular_held + (m.kind != "thematic"), f.thematic_held + (m.kind != "regular"),
                f.present + m.present, f.attendance_base + m.attendance_base, f.voting_base + m.voting_base,
                f.official_present + m.official_present)
        return out

    def cell_quarters(self) -> dict[tuple[str, str], int]:
        """(cell code, YYYY-Qn) -> thematic meetings held (thematic or combined), for every cell and quarter."""
        out = {(code, f"{self.year}-Q{q}"): 0 for code in self.cells for q in range(1, 5)}
        for m in self.meetings:
            if m.kind != "regular":
                out[(m.cell_code, f"{self.year}-Q{(m.date.month - 1) // 3 + 1}")] += 1
        return out

    @property
    def expected(self) -> dict[tuple[str, str], tuple[int, int, int]]:
        """(cell code, YYYY-MM) -> (meetings, present, attendance base), as DemoResult.expected."""
        return {k: (f.meetings, f.present, f.attendance_base) for k, f in self.cell_months().items()}


def build_district(client: ChiboClient, year: int, seed: int = 1, code: str = DISTRICT[0],
                   step_share: float = 0.75) -> DistrictResult:
    """A district's year through the HTTP APIs: a city, the district committee under it, the sample ward
    (build_ward: its register's life and its meetings, most step by step) and four more base organisations of
    the residential, administrative and enterprise blocks, whose meetings are recorded in one form each:
    a regular meeting most months, a thematic one most quarters (apart, or combined with the quarter's last
    regular one in a session of 2¼ hours), attendance by block, a few missed months, probationers confirmed
    in the spring, an exemption and, on 1 July, a cell merger. Deterministic for a seed; `code` prefixes every
    unit's code."""
    started = time.monotonic()
    post = Poster(client)
    rng = random.Random(seed * 7919 + 4)
    founded = dt.date(year - 3, 1, 1)

    def unit(kind: str, name: str, unit_code: str, parent: str | None, block: str | None = None) -> str:
        body = {"kind": kind, "name": name, "code": unit_code, "effective_from": founded.isoformat()}
        return post("members", "/units", body | ({"parent_id": parent} if parent else {})
                    | ({"block": block} if block else {}))["id"]

    city_id = unit("city", CITY[1], f"{code}-{CITY[0]}", None)
    district_id = unit("district", DISTRICT[1], code, city_id)
    ward = build_ward(client, year, seed=seed, ward_code=f"{code}-TG", step_share=step_share, parent_id=district_id)
    ward_cells = {f"{code}-TG-{c}": DistrictCell(ward.cell_ids[f"{code}-TG-{c}"], f"{code}-TG-{c}", name, block,
                                                 f"{code}-TG") for c, name, block, _ in CELLS}
    base_orgs = {f"{code}-TG": BaseOrg(ward.ward_id, f"{code}-TG", "ward", WARD_NAME)}
    cells: dict[str, DistrictCell] = {}
    people: list[Person] = []
    merge_day = dt.date(year, MERGER[3], 1)
    for org_code, kind, name, block, org_cells in BASE_ORGS:
        full = f"{code}-{org_code}"
        base_orgs[full] = BaseOrg(unit(kind, name, full, district_id), full, kind, name)
        for cell_code, cell_name, size in org_cells:
            cell = DistrictCell(unit("cell", cell_name, f"{full}-{cell_code}", base_orgs[full].id, block),
                                f"{full}-{cell_code}", cell_name, block, full)
            if (org_code, cell_code) == MERGER[:2]:
                cell = DistrictCell(cell.id, cell.code, cell.name, block, full, f"{full}-{MERGER[2]}", merge_day)
            cells[cell.code] = cell
            for i in range(size):
                admitted = founded + dt.timedelta(days=rng.randrange(0, 500))
                body: dict[str, Any] = {"code": f"{cell.code}-{i + 1:02d}", "cell_id": cell.id,
                                        "full_name": f"{rng.choice(FIRST_NAMES)} {rng.choice(GIVEN)}"}
                since: dt.date | None = admitted + dt.timedelta(days=370)
                if i == size - 1 and org_code in ("TP", "DN"):  # admitted last year, confirmed in this one
                    admitted, since = dt.date(year - 1, 3, 2 + len(people) % 20), None
                body["admitted_on"] = admitted.isoformat()
                if since is not None:
                    body |= {"status": "official", "official_since": since.isoformat()}
                people.append(Person(post("members", "/members", body)["id"], cell.id, admitted, since))
    org_of = {c.id: c.base_org for c in cells.values()}
    first: dict[str, Person] = {}  # base organisation -> its first member, who follows its other cells
    for p in people:
        first.setdefault(org_of[p.cell_id], p)
    live_district_register(post, year, cells, people, first)
    client.wait_caught_up()  # the rosters of the merged cells, before their meetings are recorded
    meetings = hold_district_meetings(post, year, cells, people, first, rng)
    client.wait_caught_up(timeout=300)  # reporting applies the year's last events
    events = sum(len(client.published(s)) for s in ("members", "meetings"))
    return DistrictResult(district_id, city_id, year, base_orgs, ward_cells | cells, ward.commands + post.count,
                          events, time.monotonic() - started, ward.meetings + meetings, ward)


def live_district_register(post: Poster, year: int, cells: dict[str, DistrictCell], people: list[Person],
                           first: dict[str, Person]) -> None:
    """Supervisors (each base organisation's first member follows its other cells), the probationers'
    confirmations, an exemption and the merger, in date order."""
    for org, supervisor in first.items():
        for cell in cells.values():
            if cell.base_org == org and cell.id != supervisor.cell_id:
                post("members", "/supervisors", {"supervisor_id": supervisor.id, "cell_id": cell.id,
                                                 "effective_from": dt.date(year, 1, 2).isoformat()})
    for p in people:
        if p.official_since is None:  # confirmed a year and ten days after admission
            p.official_since = p.admitted_on + dt.timedelta(days=375)
            post("members", f"/members/{p.id}/confirm", {"official_since": p.official_since.isoformat()})
    elder = [p for p in people if p.cell_id == next(iter(cells.values())).id][2]  # in the first commune's first cell
    elder.exempt_from = dt.date(year, 4, 1)
    post("members", f"/members/{elder.id}/exempt", {"reason": "age", "note": "Đảng viên cao tuổi",
                                                    "effective_from": elder.exempt_from.isoformat()})
    for source in cells.values():
        if source.merged_into is not None and source.merged_on is not None:
            target = cells[source.merged_into]
            post("members", "/units/merge", {"source_ids": [source.id], "target_id": target.id,
                                             "effective_from": source.merged_on.isoformat()})
            for p in people:
                if p.cell_id == source.id:
                    p.moved = (target.id, source.merged_on)


def hold_district_meetings(post: Poster, year: int, cells: dict[str, DistrictCell], people: list[Person],
                           first: dict[str, Person], rng: random.Random) -> list[ExpectedMeeting]:
    """Each cell's year in one-form meetings; return them with their figures, counted on the client side."""
    sent: list[ExpectedMeeting] = []
    for cell in cells.values():
        supervisor = first[cell.base_org]
        attends, misses = BLOCK_HABITS[cell.block]
        for quarter in range(4):
            combined = rng.random() < 0.55  # the quarter's thematic meeting held with its last regular one
            apart = not combined and rng.random() < 0.7
            for month in range(3 * quarter + 1, 3 * quarter + 4):
                plan = []
                if apart and month == 3 * quarter + 2:
                    plan.append(("thematic", dt.date(year, month, rng.randrange(1, 5))))
                if rng.random() >= misses:
                    kind = "combined" if combined and month == 3 * quarter + 3 else "regular"
                    plan.append((kind, dt.date(year, month, rng.randrange(5, 26))))
                for kind, day in plan:
                    if cell.merged_on is not None and day >= cell.merged_on:
                        continue
                    roster = [(p, s) for p in people if p.cell_on(day) == cell.id
                              and (s := p.status_on(day)) is not None]
                    present, absent = [], []
                    for p, status in roster:
                        if status == "exempted" and rng.random() < 0.85:
                            absent.append({"member_id": p.id, "excused": True, "reason": EXEMPT_ABSENT})
                        elif rng.random() < attends:
                            present.append(p.id)
                        elif rng.random() < 0.75:
                            absent.append({"member_id": p.id, "excused": True, "reason": rng.choice(
                                ["ốm", "đi công tác", "việc gia đình"])})
                        else:
                            absent.append({"member_id": p.id, "excused": False})
                    follows = supervisor.cell_on(day) != cell.id and rng.random() < 0.8
                    guests = [{"guest_id": supervisor.id}] if follows else []
                    post("meetings", "/meetings", {
                        "cell_id": cell.id, "kind": kind, "date": day.isoformat(), "place": "Hội trường",
                        "topic": rng.choice(THEMATIC_TOPICS) if kind != "regular" else None,
                        "start_time": "14:00", "end_time": "16:15" if kind == "combined" else "15:45",
                        "present": present, "absent": absent, "guests": guests})
                    sent.append(count_meeting(cell.code, day, kind, roster, set(present)))
    return sent


TEXT = {
    "vi": {"title": "Tình hình sinh hoạt chi bộ — {ward}, năm {year}", "cell": "Chi bộ",
           "months": "Tháng có SHTK", "rate": "Tỷ lệ dự họp", "legend":
           "Mỗi ô: tỷ lệ đảng viên dự sinh hoạt thường kỳ trong tháng; ✗ = không sinh hoạt thường kỳ.",
           "all": "Toàn đảng bộ", "met_all": "{n}/{total} chi bộ sinh hoạt thường kỳ đủ {months} tháng"},
    "en": {"title": "Cell meetings — {ward}, {year}", "cell": "Cell", "months": "Months met",
           "rate": "Attendance", "legend": "Each cell: attendance at the month's meetings; ✗ = no regular meeting.",
           "all": "Whole ward", "met_all": "{n}/{total} cells held a regular meeting every month"},
}
SUMMARY = {
    "vi": {"meetings": "{held} buổi sinh hoạt: {steps} buổi ghi từng bước như thư ký chi bộ, {closed} buổi đã thông "
                       "qua và khóa biên bản; {one} buổi ghi bằng một lệnh.",
           "resolutions": "Nghị quyết: {passed} được thông qua, {rejected} không được thông qua.",
           "supervisors": "Cấp ủy viên phụ trách dự {supervised}/{held} buổi sinh hoạt của chi bộ được phân công.",
           "minutes": "Biên bản mẫu: {url}?format=html (hoặc ?format=docx)"},
    "en": {"meetings": "{held} meetings: {steps} recorded step by step as a cell secretary would, {closed} closed with "
                       "approved minutes; {one} recorded in one command.",
           "resolutions": "Resolutions: {passed} passed, {rejected} rejected.",
           "supervisors": "Assigned supervisors attended {supervised}/{held} meetings of the cells they follow.",
           "minutes": "Sample minutes: {url}?format=html (or ?format=docx)"},
}


def format_summary(story: Story, base_url: str, lang: str = "vi") -> str:
    """The year's meetings in a few lines: minutes closed, resolutions, supervisors' attendance, a minutes URL."""
    t = SUMMARY[lang]
    url = f"{base_url}/meetings/meetings/{story.minutes_meeting}/minutes"
    return "\n".join([
        t["meetings"].format(held=story.held, steps=story.step_by_step, closed=story.closed, one=story.one_form),
        t["resolutions"].format(passed=story.passed, rejected=story.rejected),
        t["supervisors"].format(supervised=story.supervised, held=story.held),
        t["minutes"].format(url=url),
    ])


def percent(value: float | None, lang: str) -> str:
    if value is None:
        return "—"
    text = f"{value * 100:.1f}%"
    return text.replace(".", ",") if lang == "vi" else text


def format_table(rows: list[dict[str, Any]], ward_name: str, year: int, lang: str = "vi") -> str:
    t = TEXT[lang]
    cells: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        cells.setdefault(row["cell_code"], []).append(row)
    # the months the rows cover (a whole year for the demo; January to the as-of month for a replay report)
    numbers = sorted({int(r["month"][5:7]) for r in rows}) or list(range(1, 13))
    months = [f"T{m:02d}" if lang == "vi" else f"{m:02d}" for m in numbers]
    lines = [t["title"].format(ward=ward_name, year=year), ""]
    lines.append(f"{t['cell']:<34}" + "".join(f"{m:>7}" for m in months) + f"{t['months']:>15}{t['rate']:>14}")
    total_present = total_base = met_all = 0
    for _, cell_rows in sorted(cells.items()):
        cell_rows.sort(key=lambda r: r["month"])
        name = cell_rows[0]["cell_name"][:33]
        marks = "".join(f"{percent(r['attendance_rate'], lang) if r['regular_held'] else '✗':>7}"
                        for r in cell_rows)
        met = sum(1 for r in cell_rows if r["regular_held"])
        met_all += met == len(cell_rows)
        present = sum(r["present"] for r in cell_rows)
        base = sum(r["attendance_base"] for r in cell_rows)
        total_present += present
        total_base += base
        lines.append(f"{name:<34}{marks}{f'{met}/{len(cell_rows)}':>15}"
                     f"{percent(present / base if base else None, lang):>14}")
    lines.append("")
    lines.append(f"{t['all']}: " + t["met_all"].format(n=met_all, total=len(cells), months=len(months)) + "; "
                 + f"{t['rate'].lower()} {percent(total_present / total_base if total_base else None, lang)}")
    lines.append(t["legend"])
    return "\n".join(lines)
