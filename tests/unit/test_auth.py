"""Access control core (shared/auth.py): the policy table, every JWT refusal, API keys, revocation, the CLI."""

from __future__ import annotations

import datetime as dt

import jwt
import pytest

from services.cli import main
from shared.auth import (
    DEMO_SECRET,
    AuthConfigError,
    AuthStore,
    Forbidden,
    Principal,
    Role,
    Unauthenticated,
    auth_settings,
    authorize,
    create_api_key,
    issue_token,
    verify_api_key,
    verify_token,
)

SECRET = "a-test-secret-of-at-least-32-bytes-long!"
ISS, AUD = "chibo", "chibo-api"
T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)

# The tree:  C (city) ─ D1 (district) ─ W1 (ward) ─ K1 (cell) ─ G1 (party group, tổ đảng)
#                                          │          └ K2
#                                          └ W2 ─ K3
#              └ D2 ─ W3 ─ K4
UNIT = {Role.CELL_SECRETARY: "K1", Role.WARD_STAFF: "W1", Role.DISTRICT_STAFF: "D1",
        Role.CITY_STAFF: "C", Role.AUDITOR: None, Role.OPERATOR: None, Role.SERVICE: None}
_CELL = {"own": ["C", "D1", "W1", "K1"], "sub": ["C", "D1", "W1", "K1", "G1"], "sib": ["C", "D1", "W1", "K2"],
         "par": ["C", "D1", "W1"], "oth": ["C", "D1", "W2", "K3"]}
_WARD = {"own": ["C", "D1", "W1"], "sub": ["C", "D1", "W1", "K1"], "sib": ["C", "D1", "W2"],
         "par": ["C", "D1"], "oth": ["C", "D1", "W2", "K3"]}
_DISTRICT = {"own": ["C", "D1"], "sub": ["C", "D1", "W1", "K1"], "sib": ["C", "D2"],
             "par": ["C"], "oth": ["C", "D2", "W3", "K4"]}
TARGETS = {Role.CELL_SECRETARY: _CELL, Role.WARD_STAFF: _WARD, Role.DISTRICT_STAFF: _DISTRICT,
           Role.CITY_STAFF: _DISTRICT, Role.AUDITOR: _DISTRICT, Role.OPERATOR: _DISTRICT, Role.SERVICE: _DISTRICT}
RELATIONS = ("own", "sub", "sib", "par", "oth")

# Hand-written: Y = allowed on the target (own unit, its subtree, a sibling, the parent, another ward's cell).
# The last row is not an action at all: refused to everyone.
EXPECTED = {
    Role.CELL_SECRETARY: """
        meetings:read      YY...
        meetings:write     YY...
        members:read       YY...
        members:write      .....
        reports:read       .....
        events:read        .....
        feed:read          .....
        api:read           YY...
        replay:run         .....
        deadletters:manage .....
        meetings:delete    .....""",
    Role.WARD_STAFF: """
        meetings:read      YY...
        meetings:write     .....
        members:read       YY...
        members:write      YY...
        reports:read       YY...
        events:read        .....
        feed:read          .....
        api:read           YY...
        replay:run         .....
        deadletters:manage .....
        meetings:delete    .....""",
    Role.DISTRICT_STAFF: """
        meetings:read      YY...
        meetings:write     .....
        members:read       YY...
        members:write      .....
        reports:read       YY...
        events:read        .....
        feed:read          .....
        api:read           YY...
        replay:run         .....
        deadletters:manage .....
        meetings:delete    .....""",
    Role.CITY_STAFF: """
        meetings:read      YYYYY
        meetings:write     .....
        members:read       YYYYY
        members:write      .....
        reports:read       YYYYY
        events:read        .....
        feed:read          .....
        api:read           YYYYY
        replay:run         .....
        deadletters:manage .....
        meetings:delete    .....""",
    Role.AUDITOR: """
        meetings:read      .....
        meetings:write     .....
        members:read       .....
        members:write      .....
        reports:read       .....
        events:read        YYYYY
        feed:read          YYYYY
        api:read           YYYYY
        replay:run         .....
        deadletters:manage .....
        meetings:delete    .....""",
    Role.OPERATOR: """
        meetings:read      .....
        meetings:write     .....
        members:read       .....
        members:write      .....
        reports:read       .....
        events:read        .....
        feed:read          YYYYY
        api:read           YYYYY
        replay:run         YYYYY
        deadletters:manage YYYYY
        meetings:delete    .....""",
    Role.SERVICE: """
        meetings:read      YYYYY
        meetings:write     YYYYY
        members:read       YYYYY
        members:write      YYYYY
        reports:read       YYYYY
        events:read        YYYYY
        feed:read          YYYYY
        api:read           YYYYY
        replay:run         .....
        deadletters:manage .....
        meetings:delete    .....""",
}


def person(role: Role) -> Principal:
    from shared.auth import POLICY

    return Principal(subject="lan", role=role, unit_id=UNIT[role], scopes=POLICY[role].actions, token_id="t1")


def allowed(principal: Principal, action: str, path: list[str] | None) -> bool:
    try:
        authorize(principal, action, unit_path=path)
    except Forbidden:
        return False
    return True


@pytest.mark.parametrize("role", list(Role))
def test_each_role_reaches_exactly_its_actions_in_its_subtree(role):
    expected = {}
    for line in EXPECTED[role].strip().splitlines():
        action, marks = line.split()
        expected[action] = dict(zip(RELATIONS, (m == "Y" for m in marks), strict=True))
    principal = person(role)
    got = {action: {rel: allowed(principal, action, TARGETS[role][rel]) for rel in RELATIONS}
           for action in expected}
    assert got == expected


def test_a_target_without_a_path_is_refused_to_unit_bound_roles_only():
    assert not allowed(person(Role.WARD_STAFF), "reports:read", None)
    assert not allowed(person(Role.CELL_SECRETARY), "meetings:write", [])
    assert allowed(person(Role.OPERATOR), "replay:run", None)
    assert allowed(person(Role.AUDITOR), "events:read", None)


def test_the_refusal_is_a_403_in_vietnamese_and_english():
    with pytest.raises(Forbidden) as refused:
        authorize(person(Role.CELL_SECRETARY), "meetings:write", unit_path=_CELL["sib"])
    assert refused.value.status == 403
    assert "ngoài phạm vi" in refused.value.message_in("vi")
    assert "outside your organisation (K1)" in refused.value.message_in("en")


def test_visible_filters_rows_by_subtree():
    from shared.auth import visible

    rows = [_CELL["own"], _CELL["sib"], _WARD["sib"], _DISTRICT["oth"], []]
    assert [visible(person(Role.WARD_STAFF), p) for p in rows] == [True, True, False, False, False]
    assert [visible(person(Role.CELL_SECRETARY), p) for p in rows] == [True, False, False, False, False]
    assert [visible(person(Role.CITY_STAFF), p) for p in rows] == [True, True, True, True, True]


def test_role_labels_are_vietnamese_by_default():
    assert Role.CELL_SECRETARY.label_vi == "Bí thư chi bộ"
    assert Role.WARD_STAFF.label_en == "Ward staff"


# --- tokens ----------------------------------------------------------------------------------------

def token(**kw) -> str:
    args = {"subject": "lan", "role": Role.WARD_STAFF, "unit_id": "W1", "secret": SECRET, "issuer": ISS,
            "audience": AUD, "ttl": dt.timedelta(hours=8), "now": T0}
    args.update(kw)
    return issue_token(**args)


def verify(tok: str, **kw) -> Principal:
    args = {"secret": SECRET, "issuer": ISS, "audience": AUD, "now": T0 + dt.timedelta(hours=1)}
    args.update(kw)
    return verify_token(tok, **args)


def claims_without(claim: str) -> dict:
    claims = {"iss": ISS, "aud": AUD, "sub": "lan", "jti": "j1", "iat": T0, "exp": T0 + dt.timedelta(hours=8),
              "role": "ward_staff", "unit": "W1"}
    del claims[claim]
    return claims


def test_a_valid_token_names_its_principal():
    principal = verify(token())
    assert (principal.subject, principal.role, principal.unit_id) == ("lan", Role.WARD_STAFF, "W1")
    assert principal.scopes == {"meetings:read", "members:read", "members:write", "reports:read", "api:read"}
    assert len(principal.token_id) == 32


def test_a_current_token_passes_on_the_wall_clock_too():
    assert verify(token(now=None), now=None).role is Role.WARD_STAFF


def refusal(tok: str, **kw) -> str:
    with pytest.raises(Unauthenticated) as refused:
        verify(tok, **kw)
    assert refused.value.status == 401
    for part in tok.split("."):  # the message never echoes the token
        assert not part or part not in str(refused.value) + refused.value.message_in("vi")
    return refused.value.message


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the HS512 forgery's short key
@pytest.mark.parametrize(("make", "verify_kw", "reason"), [
    (lambda: jwt.encode(claims_without("unit"), None, algorithm="none"), {}, "algorithm"),
    (lambda: jwt.encode(claims_without("unit"), SECRET, algorithm="HS512"), {}, "algorithm"),
    (lambda: token(secret="another-secret-of-at-least-32-bytes-long"), {}, "signature"),
    (lambda: token(issuer="someone-else"), {}, "issued by someone else"),
    (lambda: token(audience="another-api"), {}, "not meant for this platform"),
    (lambda: token(), {"now": T0 + dt.timedelta(hours=8)}, "expired"),  # exp == now: expired
    (lambda: token(now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=9)), {"now": None}, "expired"),
    (lambda: token(), {"now": T0 - dt.timedelta(seconds=1)}, "not valid yet"),  # issued after `now`
    (lambda: token(now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)), {"now": None}, "not valid yet"),
    (lambda: jwt.encode({**claims_without("unit"), "role": "admin"}, SECRET), {}, "no valid role"),
    (lambda: jwt.encode(claims_without("unit"), SECRET), {}, "no valid role"),  # ward staff without a unit
    (lambda: "not-a-token", {}, "malformed"),
    (lambda: token()[:-3] + "abc", {}, "signature"),
])
def test_bad_tokens_are_refused(make, verify_kw, reason):
    assert reason in refusal(make(), **verify_kw)


@pytest.mark.parametrize("claim", ["iss", "aud", "exp", "iat", "sub", "jti"])
def test_a_token_missing_a_required_claim_is_refused(claim):
    assert refusal(jwt.encode(claims_without(claim), SECRET, algorithm="HS256")) == (
        f"the token lacks a required claim ({claim})")


def test_unit_bound_roles_need_a_unit_to_be_issued():
    with pytest.raises(ValueError, match="needs a unit"):
        token(role=Role.CELL_SECRETARY, unit_id=None)
    assert verify(token(role=Role.AUDITOR, unit_id=None)).unit_id is None


def test_revoked_and_unknown_tokens_are_refused(store_settings):
    store = AuthStore(store_settings)
    try:
        tok = token(store=store)
        principal = verify(tok, store=store)
        assert store.revoke_token(principal.token_id)
        assert "revoked" in refusal(tok, store=store)
        assert not store.revoke_token(principal.token_id)  # already revoked
        assert "revoked" in refusal(token(), store=store)  # never issued through the store
        assert verify(token(store=store), store=store).subject == "lan"  # another token still works
    finally:
        store.close()


# --- API keys --------------------------------------------------------------------------------------

@pytest.fixture
def store(sqlite_settings):
    store = AuthStore(sqlite_settings)
    yield store
    store.close()


def test_an_api_key_acts_within_its_scopes_only(store):
    key_id, key = create_api_key(store, "bi-dashboard", ["reports:read"], role=Role.DISTRICT_STAFF, unit_id="D1")
    principal = verify_api_key(key, store=store)
    assert (principal.subject, principal.token_id, principal.scopes) == (
        "apikey:bi-dashboard", key_id, {"reports:read"})
    authorize(principal, "reports:read", unit_path=_DISTRICT["sub"])
    with pytest.raises(Forbidden):
        authorize(principal, "reports:read", unit_path=_DISTRICT["sib"])  # outside its unit
    with pytest.raises(Forbidden):
        authorize(principal, "members:read", unit_path=_DISTRICT["sub"])  # the role may, the key may not


def test_only_a_salted_hash_of_the_key_is_stored(store):
    key_id, key = create_api_key(store, "a", ["reports:read"])
    _, second = create_api_key(store, "b", ["reports:read"])
    row = store.api_key(key_id)
    secret = key.split("_", 2)[2]
    assert len(secret) >= 43 and all(secret not in str(v) for v in row.values())
    assert row["hash"] != store.api_key(second.split("_")[1])["hash"]


def test_wrong_unknown_and_revoked_keys_are_refused(store):
    key_id, key = create_api_key(store, "bi", ["reports:read"])
    for bad in (key[:-2] + "xx", f"chibo_{'0' * 16}_{key.split('_', 2)[2]}", "chibo_", "Bearer x", ""):
        with pytest.raises(Unauthenticated, match="not valid"):
            verify_api_key(bad, store=store)
    assert store.revoke_api_key(key_id)
    with pytest.raises(Unauthenticated, match="revoked"):
        verify_api_key(key, store=store)


def test_api_key_scopes_must_be_actions_of_its_role(store):
    with pytest.raises(ValueError, match="unknown scopes: reporting:read"):
        create_api_key(store, "x", ["reporting:read"])
    with pytest.raises(ValueError, match="beyond the role city_staff: replay:run"):
        create_api_key(store, "x", ["replay:run"])
    with pytest.raises(ValueError, match="at least one scope"):
        create_api_key(store, "x", [])


# --- settings and the CLI --------------------------------------------------------------------------

def test_settings_refuse_the_demo_secret_outside_the_demo_and_short_secrets():
    with pytest.raises(AuthConfigError, match="REFUSED"):
        auth_settings({"CHIBO": {"jwt_secret": DEMO_SECRET}})
    assert auth_settings({"CHIBO": {}}, embedded=True).secret == DEMO_SECRET
    assert auth_settings({"CHIBO": {"allow_demo_secret": True}}).issuer == "chibo"
    with pytest.raises(AuthConfigError, match="too short"):
        auth_settings({"CHIBO": {"jwt_secret": "x" * 31}}, embedded=True)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out.strip(), err


def test_cli_issues_and_revokes_tokens_and_keys_for_the_demo(tmp_path, capsys):
    from shared.config import StoreSettings

    demo = ("--embedded", "--data-dir", str(tmp_path))
    rc, tok, _ = run_cli(capsys, "token", "issue", "--user", "lan", "--role", "cell_secretary", "--unit", "K1",
                         "--ttl", "30m", *demo)
    assert rc == 0
    claims = jwt.decode(tok, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 1800
    store = AuthStore(StoreSettings(kind="sqlite", data_dir=str(tmp_path)))
    try:
        principal = verify_token(tok, secret=DEMO_SECRET, issuer=ISS, audience=AUD, store=store)
        assert (principal.role, principal.unit_id) == (Role.CELL_SECRETARY, "K1")
        assert run_cli(capsys, "token", "revoke", principal.token_id, *demo)[0] == 0
        with pytest.raises(Unauthenticated, match="revoked"):
            verify_token(tok, secret=DEMO_SECRET, issuer=ISS, audience=AUD, store=store)
        rc, _, err = run_cli(capsys, "token", "revoke", principal.token_id, *demo)
        assert rc == 1 and "already revoked" in err

        rc, key, err = run_cli(capsys, "apikey", "create", "--name", "bi", "--scope", "reports:read", *demo)
        assert rc == 0 and "shown once" in err
        key_principal = verify_api_key(key, store=store)
        assert key_principal.scopes == {"reports:read"}
        assert run_cli(capsys, "apikey", "revoke", key_principal.token_id, *demo)[0] == 0
        with pytest.raises(Unauthenticated, match="revoked"):
            verify_api_key(key, store=store)
    finally:
        store.close()
    rc, out, err = run_cli(capsys, "token", "issue", "--user", "lan", "--role", "ward_staff", *demo)
    assert (rc, out) == (2, "") and "needs a unit" in err
    rc, _, err = run_cli(capsys, "token", "issue", "--user", "lan", "--role", "admin", *demo)
    assert rc == 2 and "unknown role 'admin'" in err


def test_cli_refuses_the_demo_secret_with_the_distributed_config(monkeypatch, capsys, pg_prefix):
    monkeypatch.delenv("CHIBO_JWT_SECRET", raising=False)
    monkeypatch.delenv("CHIBO_ALLOW_DEMO_SECRET", raising=False)
    monkeypatch.setenv("CHIBO_PG_DB_PREFIX", f"{pg_prefix}_cli")
    rc, out, err = run_cli(capsys, "token", "issue", "--user", "an", "--role", "auditor")
    assert (rc, out) == (2, "") and "REFUSED" in err and "CHIBO_JWT_SECRET" in err
    monkeypatch.setenv("CHIBO_JWT_SECRET", SECRET)
    rc, tok, _ = run_cli(capsys, "token", "issue", "--user", "an", "--role", "auditor")  # on PostgreSQL
    assert rc == 0
    assert verify_token(tok, secret=SECRET, issuer=ISS, audience=AUD).role is Role.AUDITOR


def test_a_serving_process_reuses_what_it_read_for_at_most_the_cache_time(tmp_path):
    from shared.config import StoreSettings

    now = [100.0]
    served = AuthStore(StoreSettings(kind="sqlite", data_dir=str(tmp_path)), cache_seconds=5, clock=lambda: now[0])
    admin = AuthStore(StoreSettings(kind="sqlite", data_dir=str(tmp_path)))  # the CLI's: no cache
    try:
        tok = issue_token("lan", Role.WARD_STAFF, "W1", secret=SECRET, issuer=ISS, audience=AUD,
                          ttl=dt.timedelta(hours=8), store=admin)
        jti = jwt.decode(tok, options={"verify_signature": False})["jti"]
        assert served.token_active(jti)
        assert admin.revoke_token(jti)
        now[0] += 4.9
        assert served.token_active(jti)  # still within the cache time
        now[0] += 0.2
        assert not served.token_active(jti) and not admin.token_active(jti)
    finally:
        served.close()
        admin.close()
