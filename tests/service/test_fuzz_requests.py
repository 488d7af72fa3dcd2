"""Arbitrary input never causes a 5xx, a traceback in a response, or a stored event (issue 7, "Bad input").

Hypothesis sends every command route of members and meetings arbitrary JSON, JSON shaped like the route's
own requests (the real field names with values of any type) and bytes that are not JSON; and the query routes of
all three services arbitrary query strings. Every answer must be a 2xx/4xx with a JSON body and no traceback,
and a refused command must leave the service's event store exactly as it was.
"""

from __future__ import annotations

import json
import uuid

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.meetings import schemas as meetings_schemas
from services.members import schemas as members_schemas
from services.runner import EmbeddedPlatform, embedded_config
from tests.conftest import free_port
from tests.service.test_embedded_platform import reset_memory_broker

API = requests.Session()  # a machine key of the platform below (set by the fixture)

COMMANDS = [
    ("members", "/units"), ("members", "/units/{id}/rename"), ("members", "/units/{id}/move"),
    ("members", "/units/merge"), ("members", "/units/{id}/dissolve"), ("members", "/members"),
    ("members", "/members/{id}/confirm"), ("members", "/members/{id}/exempt"),
    ("members", "/members/{id}/lift-exemption"), ("members", "/members/{id}/transfer"),
    ("members", "/members/{id}/end-temporary-transfer"), ("members", "/members/{id}/remove"),
    ("members", "/supervisors"), ("members", "/supervisors/unassign"),
    ("meetings", "/meetings"), ("meetings", "/meetings/schedule"), ("meetings", "/meetings/{id}/hold"),
    ("meetings", "/meetings/{id}/attendance"), ("meetings", "/meetings/{id}/guests"),
    ("meetings", "/meetings/{id}/agenda-steps"), ("meetings", "/meetings/{id}/speakers"),
    ("meetings", "/meetings/{id}/resolutions"), ("meetings", "/meetings/{id}/reviews"),
    ("meetings", "/meetings/{id}/dues"), ("meetings", "/meetings/{id}/close"),
    ("meetings", "/meetings/{id}/cancel"), ("meetings", "/meetings/{id}/corrections"),
]
QUERIES = [
    ("reporting", "/compliance/rollup", ("unit", "period", "tree", "by", "block", "lang")),
    ("reporting", "/compliance/drill", ("unit", "period", "figure", "page", "page_size")),
    ("reporting", "/compliance/cell-months", ("from", "to", "unit", "block", "tree", "page", "page_size")),
    ("reporting", "/compliance/member-years", ("year", "unit", "flagged", "block", "page")),
    ("reporting", "/compliance/supervisors", ("unit", "period")),
    ("reporting", "/exports/rollup.xlsx", ("unit", "period", "place")),
    ("reporting", "/exports/flagged.csv", ("year", "unit", "delimiter")),
    ("reporting", "/meetings/{id}/events", ("page", "page_size")),
    ("members", "/tree", ("date", "root")), ("members", "/cells/health", ("unit", "date")),
    ("members", "/units/{id}/history", ()), ("meetings", "/cells/{id}/meetings", ("from", "to")),
    ("meetings", "/notifications", ("after", "limit")), ("members", "/notifications", ("after", "limit")),
]


def _field_names() -> list[str]:
    """Every field name of the services' request models: shaped bodies use the routes' own keys."""
    names = {"recorded_by", "expected_version"}
    for module in (members_schemas, meetings_schemas):
        for value in vars(module).values():
            fields = getattr(value, "model_fields", None)
            if isinstance(fields, dict):
                names |= set(fields)
    return sorted(names)


JSON = st.recursive(
    # NaN and infinities are not JSON (the client cannot send them as JSON): they go as raw bytes below
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) |
    st.floats(allow_nan=False, allow_infinity=False) |
    st.text(max_size=30) | st.sampled_from(["2025-01-01", "2999-12-31", "19:30", "official", "regular", "cell",
                                            str(uuid.UUID(int=0))]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
SHAPED = st.dictionaries(st.sampled_from(_field_names()), JSON, max_size=8)
BODY = st.one_of(JSON.map(lambda v: ("json", v)), SHAPED.map(lambda v: ("json", v)),
                 st.binary(max_size=60).map(lambda v: ("raw", v)),
                 st.sampled_from([b"NaN", b"[Infinity]", b'{"recorded_by": "t", "votes_for": NaN}',
                                  b'{"effective_from": -Infinity}']).map(lambda v: ("raw", v)))


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    reset_memory_broker()
    p = EmbeddedPlatform(embedded_config(tmp_path_factory.mktemp("fuzz") / "var", port=free_port())).start()
    base = p.base_url
    API.headers["Authorization"] = f"Bearer {p.api_key('fuzz')}"
    ward = API.post(f"{base}/members/units", json={"kind": "ward", "name": "Phường",
                                                   "code": "FZ", "effective_from": "2020-01-01"}).json()
    yield p, ward["id"]
    p.stop()
    reset_memory_broker()


def last(base: str, source: str) -> int:
    return API.get(f"{base}/{source}/notifications", params={"limit": 1}, timeout=10).json()["last"]


def check(response: requests.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    assert "Traceback" not in response.text and 'File "' not in response.text, response.text[:500]
    if response.status_code >= 400:
        json.loads(response.text)  # every refusal is a JSON body


FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])


@FUZZ
@given(route=st.sampled_from(COMMANDS), body=BODY, known=st.booleans())
def test_arbitrary_command_bodies_are_refused_cleanly_and_record_nothing(platform, route, body, known):
    p, ward = platform
    service, path = route
    url = f"{p.base_url}/{service}{path.format(id=ward if known else uuid.uuid4())}"
    before = last(p.base_url, service)
    kind, value = body
    if kind == "json":
        response = API.post(url, json=value, timeout=10)
    else:
        response = API.post(url, data=value, headers={"Content-Type": "application/json"}, timeout=10)
    check(response)
    if response.status_code >= 400:
        assert last(p.base_url, service) == before, f"a refused {path} stored an event"


@FUZZ
@given(route=st.sampled_from(QUERIES), values=st.lists(st.text(max_size=20) | st.sampled_from(
    ["2025", "2025-Q5", "2025-13", "0", "-1", "99999999999", "today", "block", "children", "1e9", "%00", "🙂"]),
    min_size=7, max_size=7), known=st.booleans())
def test_arbitrary_query_strings_never_fail_the_server(platform, route, values, known):
    p, ward = platform
    service, path, names = route
    params = dict(zip(names, values, strict=False))
    url = f"{p.base_url}/{service}{path.format(id=ward if known else uuid.uuid4())}"
    check(API.get(url, params=params, timeout=30))


def test_a_body_over_the_limit_is_refused_with_413_and_records_nothing(platform):
    p, _ = platform
    before = last(p.base_url, "members")
    big = {"kind": "ward", "name": "x" * (1024 * 1024 + 10), "code": "BIG",
           "effective_from": "2020-01-01"}
    response = API.post(f"{p.base_url}/members/units", json=big, timeout=30)
    assert response.status_code == 413 and response.json()["fields"][0] == {
        "field": "body", "message": "nội dung lớn hơn 1024 kB", "rule": "body.size"}
    # a body without a declared length (chunked) is not read at all by the WSGI server: refused as empty
    chunks = (b'{"name": "' + b"x" * 65536 for _ in range(20))
    response = API.post(f"{p.base_url}/members/units", data=chunks,
                             headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 400 and "JSON body is required" in response.text, response.text[:200]
    assert last(p.base_url, "members") == before


def test_each_service_serves_its_openapi_document(platform):
    p, _ = platform
    for service in ("members", "meetings", "reporting"):
        doc = API.get(f"{p.base_url}/{service}/openapi.json", timeout=10).json()
        assert doc["openapi"] == "3.1.0" and any(path.startswith(f"/{service}/") for path in doc["paths"])


HEADER = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=300)
FORGED = st.sampled_from([
    # alg "none", an HS256 token signed with another secret, a truncated one, an API key of the wrong shape
    "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4Iiwicm9sZSI6ImNpdHlfc3RhZmYifQ.",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
    "eyJhbGciOiJIUzI1NiJ9", "chibo_0011223344556677_secret", "chibo__", "chibo_x",
])


@FUZZ
@given(credential=HEADER | FORGED, scheme=st.sampled_from(["Bearer ", "bearer ", "Basic ", "", "Bearer  "]),
       route=st.sampled_from(COMMANDS[:3] + [(s, p) for s, p, _ in QUERIES]))
def test_arbitrary_credentials_are_refused_with_401_and_record_nothing(platform, credential, scheme, route):
    p, ward = platform
    service, path = route
    url = f"{p.base_url}/{service}{path.format(id=ward)}"
    before = last(p.base_url, "members")
    method = requests.post if route in COMMANDS[:3] else requests.get
    response = method(url, json={"kind": "ward"}, headers={"Authorization": (scheme + credential).strip()},
                      timeout=10)  # (the HTTP client sends no header value with edge whitespace)
    check(response)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer"), response.text
    assert response.json()["fields"][0]["rule"] == "unauthenticated"
    assert len(credential.strip()) < 8 or credential not in response.text  # a refusal never echoes it
    assert last(p.base_url, "members") == before
