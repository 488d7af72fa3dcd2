"""The demo scenario: a sample ward with a year of cell meetings, recorded through the HTTP APIs.

Deterministic for a given seed, so the embedded and the distributed runs can be compared figure by figure.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from dataclasses import dataclass
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
class DemoResult:
    ward_id: str
    year: int
    commands: int
    seconds: float
    events: int
    # What the scenario sent, computed on the client side: (cell code, month) -> (meetings, present, summoned).
    # Every demo member is official or probationary, so the attendance base is everyone summoned.
    expected: dict[tuple[str, str], tuple[int, int, int]]


def build_ward(client: ChiboClient, year: int, seed: int = 1, ward_code: str = "TG") -> DemoResult:
    """Create the ward, its cells and members, then hold a year of monthly meetings with attendance."""
    rng = random.Random(seed)
    started = time.monotonic()
    commands = 0
    founded = dt.date(year - 3, 1, 1)
    ward = client.post("members", "/units", {"kind": "ward", "name": "Đảng bộ phường Tân Giang",
                                             "code": ward_code, "effective_from": founded.isoformat()})
    commands += 1
    cells: list[tuple[str, str, list[str]]] = []
    expected: dict[tuple[str, str], tuple[int, int, int]] = {}
    for code, name, block, size in CELLS:
        cell = client.post("members", "/units", {"kind": "cell", "name": name, "code": f"{ward_code}-{code}",
                                                 "parent_id": ward["id"], "block": block,
                                                 "effective_from": founded.isoformat()})
        commands += 1
        members = []
        for i in range(size):
            admitted = founded + dt.timedelta(days=rng.randrange(0, 400))
            official = i < size - 2 or rng.random() < 0.5  # most are official, a few still probationary
            body: dict[str, Any] = {
                "code": f"{ward_code}-{code}-{i + 1:02d}",
                "full_name": f"{rng.choice(FIRST_NAMES)} {rng.choice(GIVEN)}",
                "cell_id": cell["id"],
                "admitted_on": admitted.isoformat(),
            }
            if official:
                body |= {"status": "official", "official_since": (admitted.replace(year=admitted.year + 1)
                                                                  + dt.timedelta(days=5)).isoformat()}
            members.append(client.post("members", "/members", body)["id"])
            commands += 1
        cells.append((cell["id"], f"{ward_code}-{code}", members))
    client.wait_caught_up()  # the meetings service needs the rosters before meetings can be recorded
    for cell_id, cell_code, members in cells:
        for month in range(1, 13):
            if rng.random() < 0.06:  # now and then a cell misses a month
                expected[(cell_code, f"{year}-{month:02d}")] = (0, 0, 0)
                continue
            day = dt.date(year, month, rng.randrange(5, 26))
            kind = "combined" if month % 3 == 0 else "regular"
            present, absent = [], []
            for member in members:
                r = rng.random()
                if r < 0.88:
                    present.append(member)
                elif r < 0.97:
                    absent.append({"member_id": member, "excused": True, "reason": rng.choice(
                        ["ốm", "đi công tác", "việc gia đình"])})
                else:
                    absent.append({"member_id": member, "excused": False})
            client.post("meetings", "/meetings", {
                "cell_id": cell_id, "kind": kind, "date": day.isoformat(),
                "topic": "Học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh" if kind != "regular" else None,
                "start_time": "19:30", "end_time": "21:45" if kind == "combined" else "21:00",
                "place": "Nhà văn hóa", "present": present, "absent": absent,
            })
            commands += 1
            expected[(cell_code, f"{year}-{month:02d}")] = (1, len(present), len(members))
    client.wait_caught_up()
    seconds = time.monotonic() - started
    events = sum(len(client.published(s)) for s in ("members", "meetings"))
    return DemoResult(ward["id"], year, commands, seconds, events, expected)


TEXT = {
    "vi": {"title": "Tình hình sinh hoạt chi bộ — {ward}, năm {year}", "cell": "Chi bộ",
           "months": "Tháng có SHTK", "rate": "Tỷ lệ dự họp", "legend":
           "Mỗi ô: tỷ lệ đảng viên dự sinh hoạt thường kỳ trong tháng; ✗ = không sinh hoạt thường kỳ.",
           "all": "Toàn đảng bộ", "met_all": "{n}/{total} chi bộ sinh hoạt thường kỳ đủ 12 tháng"},
    "en": {"title": "Cell meetings — {ward}, {year}", "cell": "Cell", "months": "Months met",
           "rate": "Attendance", "legend": "Each cell: attendance at the month's meetings; ✗ = no regular meeting.",
           "all": "Whole ward", "met_all": "{n}/{total} cells held a regular meeting every month"},
}


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
    months = [f"T{m:02d}" if lang == "vi" else f"{m:02d}" for m in range(1, 13)]
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
    lines.append(f"{t['all']}: " + t["met_all"].format(n=met_all, total=len(cells)) + "; "
                 + f"{t['rate'].lower()} {percent(total_present / total_base if total_base else None, lang)}")
    lines.append(t["legend"])
    return "\n".join(lines)
