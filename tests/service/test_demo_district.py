"""The sample district (services.demo.build_district) on the embedded platform, recorded once for the module:
reporting's per cell and month figures equal what the client sent, the merged cells included."""

import datetime as dt

import pytest

from services.demo import MERGER, Person, build_district, count_meeting
from services.runner import EmbeddedPlatform, embedded_config
from tests.conftest import free_port
from tests.service.test_embedded_platform import reset_memory_broker

YEAR = 2025


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    reset_memory_broker()
    platform = EmbeddedPlatform(embedded_config(tmp_path_factory.mktemp("district") / "var", port=free_port()))
    platform.start()
    try:
        client = platform.client()
        yield client, build_district(client, YEAR, seed=3)
    finally:
        platform.stop()
        reset_memory_broker()


def existing(result, cell_months):
    """The cell-months of cells that existed in the month (a merged cell has none after its merger)."""
    def existed(code, month):
        end = result.cells[code].merged_on
        return end is None or dt.date.fromisoformat(month + "-01") < end

    return {key: f for key, f in cell_months.items() if existed(*key)}


def rows_of(client, unit_id):
    return {(r["cell_code"], r["month"]): r for r in client.cell_months(f"{YEAR}-01", f"{YEAR}-12", unit_id)}


def test_reporting_has_every_cell_month_the_client_sent(district):
    client, result = district
    rows = rows_of(client, result.district_id)
    expected = existing(result, result.cell_months())
    assert set(rows) == set(expected) and len(result.cells) == 5 + 14  # the ward's cells and the four others'
    for key, f in expected.items():
        r = rows[key]
        assert (r["meetings"], r["present"], r["attendance_base"]) == (f.meetings, f.present, f.attendance_base), key
        assert r["regular_held"] == (f.regular_held > 0), key
        assert r["block"] == result.cells[key[0]].block
    assert sum(r["meetings"] for r in rows.values()) == len(result.meetings)  # none lost, none counted twice
    # each base organisation's roll-up holds its own cells, with the same figures
    for org in result.base_orgs.values():
        own = rows_of(client, org.id)
        assert {code for code, _ in own} == {c.code for c in result.cells.values() if c.base_org == org.code}
        assert all(own[k] == rows[k] for k in own)


def test_the_merged_cell_ends_in_june_and_its_members_meet_in_the_target_from_july(district):
    client, result = district
    [source] = [c for c in result.cells.values() if c.merged_into]
    target = result.cells[source.merged_into]
    assert (source.code, target.code) == (f"ML-{MERGER[0]}-{MERGER[1]}", f"ML-{MERGER[0]}-{MERGER[2]}")
    unit = client.get("members", f"/units/{source.id}")
    assert (unit["merged_into"], unit["ended_on"]) == (target.id, f"{YEAR}-07-01")
    rows = rows_of(client, result.district_id)
    after = [f"{YEAR}-{m:02d}" for m in range(7, 13)]
    assert all((source.code, m) not in rows for m in after)  # it no longer exists: no month to report
    assert sum(rows[(source.code, f"{YEAR}-{m:02d}")]["meetings"] for m in range(1, 7)) >= 5
    # the six members of thôn Hạ are summoned by thôn Giữa from July (11 + 6)
    roster = client.get("meetings", f"/cells/{target.id}/roster", date=f"{YEAR}-07-15")
    assert len(roster["members"]) == 17
    june = client.get("meetings", f"/cells/{target.id}/roster", date=f"{YEAR}-06-15")
    assert len(june["members"]) == 11


def test_the_figures_differ_by_block_and_include_missed_months_and_thematic_meetings(district):
    _, result = district
    by_block: dict[str, list[int]] = {}
    for m in result.meetings:
        block = result.cells[m.cell_code].block
        totals = by_block.setdefault(block, [0, 0])
        totals[0] += m.present
        totals[1] += m.attendance_base
    rate = {b: p / base for b, (p, base) in by_block.items()}
    assert set(rate) == {"residential", "administrative", "enterprise"}
    assert rate["administrative"] > rate["enterprise"] > rate["residential"]
    months = result.cell_months()
    assert any(f.regular_held == 0 for (code, _), f in months.items() if not result.cells[code].merged_into)
    assert any(f.thematic_held and f.regular_held == 0 for f in months.values())  # a thematic meeting apart
    assert any(f.thematic_held and f.regular_held for f in months.values())  # one combined with the regular
    quarters = result.cell_quarters()
    held = sum(1 for n in quarters.values() if n)
    assert 0.6 * len(quarters) < held < len(quarters)  # most quarters, not all


def test_count_meeting_follows_the_counting_rules():
    day = dt.date(YEAR, 5, 10)
    official = Person("a", "c", dt.date(2020, 1, 1), dt.date(2021, 1, 1))
    probationer = Person("b", "c", dt.date(2024, 9, 1), None)
    exempt_absent = Person("c", "c", dt.date(2000, 1, 1), dt.date(2001, 1, 1), exempt_from=dt.date(YEAR, 1, 1))
    exempt_present = Person("d", "c", dt.date(2000, 1, 1), dt.date(2001, 1, 1), exempt_from=dt.date(YEAR, 1, 1))
    away = Person("e", "c", dt.date(2000, 1, 1), dt.date(2001, 1, 1), away=("x", dt.date(YEAR, 5, 1),
                                                                          dt.date(YEAR, 8, 1)))
    absent = Person("f", "c", dt.date(2000, 1, 1), dt.date(2001, 1, 1))
    people = [official, probationer, exempt_absent, exempt_present, away, absent]
    roster = [(p, p.status_on(day)) for p in people]
    m = count_meeting("C", day, "regular", roster, {"a", "b", "d"})
    # base: a, b, d, f (e is elsewhere, c exempted and absent); voting base: a, d, f; official present: a, d
    assert (m.present, m.attendance_base, m.voting_base, m.official_present) == (3, 4, 3, 2)


def test_the_district_roll_up_equals_the_figures_counted_by_the_client(district):
    """Reporting's year roll-up of the district, by block, against the client's own count of what it sent:
    months and quarters due (a cell merged on 1 July is due until June), thematic meetings, attendance by
    block, meetings able to decide."""
    client, result = district
    months, quarters = result.cell_months(), result.cell_quarters()

    def due(cell, last_day):
        return cell.merged_on is None or last_day < cell.merged_on

    met_all = thematic_all = 0
    for cell in result.cells.values():
        due_months = [m for m in range(1, 13) if due(cell, dt.date(YEAR, m, 28))]
        met_all += all(months[(cell.code, f"{YEAR}-{m:02d}")].regular_held for m in due_months)
        due_quarters = [q for q in range(1, 5) if due(cell, dt.date(YEAR, 3 * q, 28))]
        thematic_all += all(quarters[(cell.code, f"{YEAR}-Q{q}")] for q in due_quarters)
    rollup = client.rollup(str(YEAR), result.district_id, by="block")
    f = rollup["figures"]
    n = len(result.cells)
    assert f["cells"] == n
    assert (f["regular_every_month"]["count"], f["regular_every_month"]["of"]) == (met_all, n)
    assert (f["thematic_every_quarter"]["count"], f["thematic_every_quarter"]["of"]) == (thematic_all, n)
    assert f["meetings"] == len(result.meetings)
    assert f["able_to_decide"]["count"] == sum(m.official_present * 2 > m.voting_base for m in result.meetings)
    by_block: dict[str, list[int]] = {}
    for m in result.meetings:
        totals = by_block.setdefault(result.cells[m.cell_code].block, [0, 0])
        totals[0] += m.present
        totals[1] += m.attendance_base
    assert {g["key"]: (g["figures"]["attendance"]["present"], g["figures"]["attendance"]["base"])
            for g in rollup["groups"]} == {b: tuple(t) for b, t in by_block.items()}
    # per cell and month too: thematic held, and the meetings able to decide
    rows = rows_of(client, result.district_id)
    decide: dict[tuple[str, str], int] = {}
    for m in result.meetings:
        key = (m.cell_code, m.date.strftime("%Y-%m"))
        decide[key] = decide.get(key, 0) + (m.official_present * 2 > m.voting_base)
    for key, figures in existing(result, months).items():
        assert rows[key]["thematic_held"] == (figures.thematic_held > 0), key
        assert rows[key]["able_to_decide"] == decide.get(key, 0), key
    # the report's first sentence, in the seed's wording, from these figures
    assert rollup["report"][0].startswith(f"{round(100 * met_all / n, 1):g}%".replace(".", ",")
                                          + " chi bộ duy trì sinh hoạt thường kỳ hằng tháng; ")
    assert "ở khối xã, phường" in rollup["report"][0] and "ở khối doanh nghiệp" in rollup["report"][0]
