"""Who may do what, over HTTP (issue 7): each role reaches exactly what it should and nothing else.

A small city on the embedded platform:

    C (city) ─ D1 (district) ─ W1 (ward) ─ K1 (cell: m1, meetings) , K2
             │               └ W2 ─ K3 (m3)
             └ D2 ─ W3 ─ K4 (m4, meetings)

Each role signs in with a token for its unit (a cell secretary of K1, ward staff of W1, district staff of D1,
city staff, an auditor, an operator), plus a machine key and no credentials at all, and calls one route of
each kind on a target inside its reach ("own") and one outside it ("other"). The answers are compared with
the table below, written by hand from the issue's rules. `python -m pytest tests/service/test_access_matrix.py
-s` prints the table as the closing note shows it.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import requests

from services.runner import EmbeddedPlatform, embedded_config
from shared.auth import AuthStore
from shared.config import settings_from
from tests.conftest import free_port, wait_for
from tests.service.test_embedded_platform import reset_memory_broker

YEAR = 2025
ROLES = ("cell_secretary", "ward_staff", "district_staff", "city_staff", "auditor", "operator", "service", "none")
UNITS = {"cell_secretary": "K1", "ward_staff": "W1", "district_staff": "D1", "city_staff": "C"}

# Columns: route (target own|other). Rows: roles in ROLES order. Y = 2xx, . = 403, - = 401.
# A "target" is the unit the route touches: for the unit-bound roles "own" lies in their subtree (K1 for
# the cell secretary, K1/W1 for ward staff, W2's cell for district staff) and "other" in D2; the city-wide
# roles have no "other".
EXPECTED = """
route                                   cs  ws  ds  cy  au  op  sv  no
GET  /members/units/{unit}              Y.  Y.  Y.  YY  ..  ..  YY  --
GET  /members/members/{member}          Y.  Y.  Y.  YY  ..  ..  YY  --
GET  /members/cells/{cell}/roster       Y.  Y.  Y.  YY  ..  ..  YY  --
POST /members/units/{cell}/rename       ..  Y.  ..  ..  ..  ..  YY  --
POST /members/members (admit)           ..  Y.  ..  ..  ..  ..  YY  --
GET  /members/notifications             ..  ..  ..  ..  YY  YY  YY  --
POST /meetings/meetings (hold)          Y.  ..  ..  ..  ..  ..  YY  --
GET  /meetings/meetings/{meeting}       Y.  Y.  Y.  YY  ..  ..  YY  --
GET  /meetings/cells/{cell}/meetings    Y.  Y.  Y.  YY  ..  ..  YY  --
GET  /meetings/notifications            ..  ..  ..  ..  YY  YY  YY  --
GET  /reporting/compliance/rollup       ..  Y.  Y.  YY  ..  ..  YY  --
GET  /reporting/compliance/member-years ..  Y.  Y.  YY  ..  ..  YY  --
GET  /reporting/exports/flagged.csv     ..  Y.  Y.  YY  ..  ..  YY  --
GET  /reporting/members/{member}        ..  Y.  Y.  YY  ..  ..  YY  --
GET  /reporting/meetings/{meeting}/events ..  ..  ..  ..  YY  ..  YY  --
GET  /reporting/units                   ..  YY  YY  YY  ..  ..  YY  --
GET  /members/openapi.json              YY  YY  YY  YY  YY  YY  YY  --
"""


def expected_table() -> dict[tuple[str, str, str], str]:
    """(route, role, own|other) -> Y / . / - from the table above."""
    lines = [line for line in EXPECTED.strip().splitlines()[1:]]
    table = {}
    for line in lines:
        cells = line.split()
        marks = cells[-len(ROLES):]
        route = " ".join(cells[:-len(ROLES)])
        for role, mark in zip(ROLES, marks, strict=True):
            table[(route, role, "own")] = mark[0]
            table[(route, role, "other")] = mark[-1]
    return table


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    reset_memory_broker()
    config = embedded_config(tmp_path_factory.mktemp("access") / "var", port=free_port())
    # people's budget, small enough to test below; a revocation seen within a second
    config["CHIBO"] |= {"rate_limit": 5, "rate_burst": 60, "auth_cache_seconds": 1}
    platform = EmbeddedPlatform(config).start()
    machine = platform.client(platform.api_key("setup"))
    ids: dict[str, str] = {}

    def unit(code, kind, parent=None, block=None):
        body = {"kind": kind, "name": f"Đơn vị {code}", "code": code, "effective_from": "2020-01-01"}
        if parent:
            body["parent_id"] = ids[parent]
        if block:
            body["block"] = block
        ids[code] = machine.post("members", "/units", body)["id"]

    for code, kind, parent in (("C", "city", None), ("D1", "district", "C"), ("D2", "district", "C"),
                               ("W1", "ward", "D1"), ("W2", "ward", "D1"), ("W3", "ward", "D2")):
        unit(code, kind, parent)
    for code, parent in (("K1", "W1"), ("K2", "W1"), ("K3", "W2"), ("K4", "W3")):
        unit(code, "cell", parent, "residential")
    for n, cell in (("1", "K1"), ("1b", "K1"), ("3", "K3"), ("4", "K4"), ("4b", "K4")):
        ids[f"m{n}"] = machine.post("members", "/members", {
            "code": f"M{n}", "full_name": f"Đảng viên {n}", "cell_id": ids[cell], "admitted_on": "2020-03-01",
            "status": "official", "official_since": "2021-03-01"})["id"]
    machine.wait_caught_up()
    for cell, present, absent in (("K1", "m1b", "m1"), ("K3", "m3", None), ("K4", "m4b", "m4")):
        for month in (1, 2, 3):  # the absent member misses three meetings without reason: flagged
            meeting = machine.post("meetings", "/meetings", {
                "cell_id": ids[cell], "date": f"{YEAR}-{month:02d}-10", "start_time": "19:00", "end_time": "21:00",
                "present": [ids[present]],
                "absent": [{"member_id": ids[absent], "excused": False}] if absent else []})
            ids.setdefault(f"meeting-{cell}", meeting["id"])
    machine.wait_caught_up()
    tokens = {role: platform.sign_in(f"user-{role}", role, ids[UNITS[role]] if role in UNITS else None)
              for role in ROLES if role not in ("service", "none")}
    tokens["service"] = platform.api_key("matrix-machine")
    yield platform, ids, tokens, machine
    platform.stop()
    reset_memory_broker()


def targets(role: str) -> dict[str, dict[str, str]]:
    """The ids a route is called on, inside ("own") and outside ("other") the role's reach."""
    own = {"unit": "K1", "cell": "K1", "member": "m1", "meeting": "meeting-K1", "ward": "W1"}
    if role == "district_staff":
        own = {"unit": "K3", "cell": "K3", "member": "m3", "meeting": "meeting-K3", "ward": "W2"}
    other = {"unit": "K4", "cell": "K4", "member": "m4", "meeting": "meeting-K4", "ward": "W3"}
    return {"own": own, "other": other}


_counter = itertools.count()


def call(platform, ids, token, route: str, target: dict[str, str]) -> requests.Response:
    base = platform.base_url
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    n = next(_counter)
    _method, path = route.split()[:2]
    path = path.format(**{k: ids[v] for k, v in target.items()})
    if route.startswith("POST /members/units/"):
        return requests.post(base + path, json={"name": f"Tên mới {n}", "effective_from": "2024-01-01"},
                             headers=headers, timeout=10)
    if route == "POST /members/members (admit)":
        return requests.post(base + path, json={"code": f"NEW{n}", "full_name": f"Người mới {n}",
                                                "cell_id": ids[target["cell"]], "admitted_on": "2024-05-01"},
                             headers=headers, timeout=10)
    if route == "POST /meetings/meetings (hold)":
        day = dt.date(2023, 1, 1) + dt.timedelta(days=n)  # before anyone the test admits: the roster is known
        present = [ids[m] for m in (("m1", "m1b") if target["cell"] == "K1" else ("m3",) if target["cell"] == "K3"
                                    else ("m4", "m4b"))]
        return requests.post(base + path, json={"cell_id": ids[target["cell"]], "date": day.isoformat(),
                                                "start_time": "19:00", "end_time": "21:00", "present": present},
                             headers=headers, timeout=10)
    params = {}
    if path.startswith("/reporting/compliance/") or path.startswith("/reporting/exports/"):
        params = {"unit": ids[target["ward"]], "period": str(YEAR), "year": str(YEAR)}
    return requests.get(base + path, params=params, headers=headers, timeout=30)


def mark(response: requests.Response) -> str:
    if response.status_code == 401:
        return "-"
    if response.status_code == 403:
        return "."
    assert response.status_code < 300, (response.status_code, response.text[:300])
    return "Y"


def test_each_role_reaches_exactly_what_the_table_says(city):
    platform, ids, tokens, _ = city
    expected = expected_table()
    got = {}
    for (route, role, where) in expected:  # every cell is a real call ("none": without credentials)
        got[(route, role, where)] = mark(call(platform, ids, tokens.get(role), route, targets(role)[where]))
    wrong = {k: (expected[k], v) for k, v in got.items() if expected[k] != v}
    assert not wrong, wrong
    print("\n" + markdown(expected))


def markdown(table: dict[tuple[str, str, str], str]) -> str:
    """The table for the closing note: one row per route, one column per role, own/other in each cell."""
    routes = list(dict.fromkeys(route for route, _, _ in table))
    words = {"Y": "✓", ".": "403", "-": "401"}
    lines = ["| route | " + " | ".join(ROLES) + " |", "|---" * (len(ROLES) + 1) + "|"]
    for route in routes:
        cells = []
        for role in ROLES:
            own, other = table[(route, role, "own")], table[(route, role, "other")]
            cells.append(words[own] if own == other else f"{words[own]} / {words[other]}")
        lines.append(f"| `{route}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def names_in(response: requests.Response) -> set[str]:
    return {item["member_id"] for item in response.json()["items"]}


def test_queries_answer_only_within_the_callers_reach(city):
    platform, ids, tokens, _ = city

    def get(role, path, **params):
        r = requests.get(f"{platform.base_url}{path}", params=params, timeout=30,
                         headers={"Authorization": f"Bearer {tokens[role]}"})
        assert r.status_code == 200, r.text
        return r

    # without ?unit= a unit-bound role gets its own unit, never the city: W1's flagged members, not W3's
    ward = get("ward_staff", "/reporting/compliance/member-years", year=str(YEAR))
    assert ward.json()["unit"] == ids["W1"] and names_in(ward) == {ids["m1"], ids["m1b"]}
    district = get("district_staff", "/reporting/compliance/member-years", year=str(YEAR))
    assert names_in(district) == {ids["m1"], ids["m1b"], ids["m3"]}
    city_wide = get("city_staff", "/reporting/compliance/member-years", year=str(YEAR))
    assert names_in(city_wide) == {ids[m] for m in ("m1", "m1b", "m3", "m4", "m4b")}
    # the roll-up's drill-down and the export stay inside too
    drill = get("ward_staff", "/reporting/compliance/drill", period=str(YEAR), figure="flagged_members").json()
    assert {i["member_id"] for i in drill["items"]} == {ids["m1"]}
    flagged = get("ward_staff", "/reporting/exports/flagged.csv", year=str(YEAR)).content.decode("utf-8-sig")
    assert "Đảng viên 1" in flagged and "Đảng viên 4" not in flagged
    # the unit list is the caller's subtree
    units = {u["code"] for u in get("ward_staff", "/reporting/units", page_size="100").json()["items"]}
    assert units == {"W1", "K1", "K2"}
    # the members service's tree and cell health default to the caller's unit as well
    tree = get("ward_staff", "/members/tree").json()
    assert str(tree).count(ids["K4"]) == 0 and ids["K1"] in str(tree)
    # an ETag is per reach: the same URL answers two wards differently
    other = platform.sign_in("user-w3", "ward_staff", ids["W3"])
    mine = get("ward_staff", "/reporting/compliance/member-years", year=str(YEAR))
    theirs = requests.get(f"{platform.base_url}/reporting/compliance/member-years", params={"year": str(YEAR)},
                          headers={"Authorization": f"Bearer {other}", "If-None-Match": mine.headers["ETag"]})
    assert theirs.status_code == 200 and names_in(theirs) == {ids["m4"], ids["m4b"]}


def test_events_record_the_authenticated_caller_not_anything_the_body_says(city):
    platform, ids, tokens, machine = city
    auth = {"Authorization": f"Bearer {tokens['ward_staff']}"}
    base = platform.base_url
    forged = requests.post(f"{base}/members/units/{ids['K2']}/rename", headers=auth, timeout=10,
                           json={"name": "Chi bộ giả", "effective_from": "2024-02-01", "recorded_by": "someone else"})
    assert forged.status_code == 422 and forged.json()["fields"][0]["field"] == "recorded_by"
    ok = requests.post(f"{base}/members/units/{ids['K2']}/rename", headers={**auth, "X-Correlation-Id": "req-77"},
                       json={"name": "Chi bộ K2 mới", "effective_from": "2024-02-01"}, timeout=10)
    assert ok.status_code == 200, ok.text
    history = requests.get(f"{base}/members/units/{ids['K2']}/history", headers=auth, timeout=10).json()["events"]
    assert (history[-1]["recorded_by"], history[-1]["correlation_id"]) == ("user-ward_staff", "req-77")
    # the auditor's trail of the unit, in reporting: who, when, from which request
    machine.wait_caught_up()
    trail = requests.get(f"{base}/reporting/units/{ids['K2']}/events", timeout=10,
                         headers={"Authorization": f"Bearer {tokens['auditor']}"}).json()["items"]
    assert (trail[0]["type"], trail[0]["recorded_by"]) == ("OrgUnitCreated", "apikey:setup")
    assert (trail[-1]["recorded_by"], trail[-1]["correlation_id"]) == ("user-ward_staff", "req-77")
    assert trail[-1]["recorded_at"] and trail[-1]["payload"]["new_name"] == "Chi bộ K2 mới"
    assert requests.get(f"{base}/reporting/units/{ids['K2']}/events", timeout=10,
                        headers=auth).status_code == 403  # ward staff read reports, not audit trails


def test_revoked_and_expired_tokens_are_refused(city):
    platform, _ids, _, _ = city
    import jwt

    token = platform.sign_in("short-lived", "city_staff", None)
    url = f"{platform.base_url}/reporting/units"
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200
    store = AuthStore(settings_from(platform.config).store)
    try:
        assert store.revoke_token(jwt.decode(token, options={"verify_signature": False})["jti"])
    finally:
        store.close()
    def refusal():
        r = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        return r.json() if r.status_code == 401 else None  # (a Response is falsy when not ok)

    refused = wait_for(refusal, timeout=5, what="the revocation seen (auth_cache_seconds=1)")
    assert refused["message"] == "mã truy cập đã bị thu hồi"
    claims = jwt.decode(platform.sign_in("late", "city_staff", None), options={"verify_signature": False})
    expired = jwt.encode(claims | {"exp": int(dt.datetime(2020, 1, 1).timestamp())}, "x" * 40)  # also forged
    assert requests.get(url, headers={"Authorization": f"Bearer {expired}"}, timeout=10).status_code == 401


def test_a_person_over_their_rate_limit_gets_429_and_others_are_not_slowed(city):
    platform, ids, tokens, _ = city
    hurried = platform.sign_in("hurried", "city_staff", None)
    url = f"{platform.base_url}/members/units/{ids['C']}"
    codes = [requests.get(url, headers={"Authorization": f"Bearer {hurried}"}, timeout=10) for _ in range(80)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited and int(limited[0].headers["Retry-After"]) >= 1  # 60 at once, then 5 per second
    assert limited[0].json()["error"] == "rate_limited"
    calm = requests.get(url, headers={"Authorization": f"Bearer {tokens['city_staff']}"}, timeout=10)
    assert calm.status_code == 200


def test_the_city_wide_figures_reach_the_metrics_the_dashboard_shows(city):
    from prometheus_client import REGISTRY

    from services.reporting import gauges

    platform, _, tokens, _ = city
    figures = requests.get(f"{platform.base_url}/reporting/compliance/rollup", timeout=30,
                           params={"by": "none", "period": str(YEAR)},
                           headers={"Authorization": f"Bearer {tokens['city_staff']}"}).json()["figures"]
    views = next(d for c in platform.runner.containers for d in c.dependencies if getattr(d, "attr_name", "") == "views"
                 and c.service_name == "reporting")
    gauges.publish(gauges.city_figures(views.store, str(YEAR)))
    assert 0 < figures["attendance"]["rate"] < 1
    assert REGISTRY.get_sample_value("chibo_compliance_rate", {"figure": "attendance"}) == figures["attendance"]["rate"]
    assert REGISTRY.get_sample_value("chibo_compliance_count", {"figure": "flagged_members"}) == \
        figures["flagged_members"] == 2
