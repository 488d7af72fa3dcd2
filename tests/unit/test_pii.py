"""Personal data sealed with a key per person (shared/pii.py): round trip, determinism, erasure, the key store on
SQLite and PostgreSQL, the refusal of the demo keys outside the demo, and the members' event store holding no
name in clear (under the event store's own cipher too)."""

import base64
import datetime as dt
import sqlite3
import uuid
from dataclasses import replace

import pytest

from services.members.application import MembersApplication
from services.members.integration import translate
from shared import pii
from shared.relay import EnvelopeReader
from shared.stores import TrackedStore, event_store_env

NAME = "Nguyễn Thị Hồng Nhung"
TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def ring(store_settings):
    ring = pii.KeyRing(store_settings, ttl=0)
    yield ring
    ring.close()


def test_round_trip_and_plain_values_pass_through(ring):
    member = uuid.uuid4()
    sealed = ring.seal(member, "full_name", NAME, context="e1")
    assert sealed.startswith(f"pii:v1:{member}:")
    assert NAME not in sealed and NAME.encode() not in base64.urlsafe_b64decode(sealed.rsplit(":", 1)[1] + "==")
    assert ring.unseal(sealed) == NAME
    assert ring.unseal("Trần Văn An") == "Trần Văn An"
    assert ring.unseal(None) is None
    assert ring.seal(member, "full_name", sealed, context="e1") == sealed  # sealing twice changes nothing


def test_sealing_is_deterministic_per_context_and_differs_across(ring):
    member = uuid.uuid4()
    a = ring.seal(member, "full_name", NAME, context="e1")
    assert ring.seal(member, "full_name", NAME, context="e1") == a
    assert ring.seal(member, "full_name", NAME, context="e2") != a
    assert ring.seal(member, "born_on", NAME, context="e1") != a
    assert ring.seal(uuid.uuid4(), "full_name", NAME, context="e1") != a


def test_a_sealed_value_cannot_be_passed_off_as_another_persons(ring):
    a, b = uuid.uuid4(), uuid.uuid4()
    sealed = ring.seal(a, "full_name", NAME, context="e1")
    ring.seal(b, "full_name", "x", context="e1")  # b has a key
    forged = sealed.replace(str(a), str(b))
    with pytest.raises(ValueError, match="does not open"):
        ring.unseal(forged)


def test_shredding_gives_the_placeholder_and_keeps_a_tombstone(ring):
    gone, kept = uuid.uuid4(), uuid.uuid4()
    sealed = [ring.seal(gone, "full_name", NAME, context=str(i)) for i in range(3)]
    other = ring.seal(kept, "full_name", "Lê Văn Tám", context="1")
    at = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    assert ring.shred(gone, by="Bí thư Đảng ủy", reason="yêu cầu của đương sự", now=at) is True
    assert ring.shred(gone, by="x", reason="again") is False
    assert ring.unseal_many([*sealed, other, "plain"]) == [pii.PLACEHOLDER] * 3 + ["Lê Văn Tám", "plain"]
    assert ring.unseal(sealed[0], placeholder=pii.PLACEHOLDER_EN) == "[erased]"
    assert ring.erased(gone) and not ring.erased(kept)
    tomb = ring.tombstone(gone)
    assert tomb["shredded_by"] == "Bí thư Đảng ủy" and tomb["reason"] == "yêu cầu của đương sự"
    assert tomb["shredded_at"] == at.isoformat()
    with pytest.raises(pii.Erased):
        ring.seal(gone, "full_name", NAME, context="later")


def test_another_process_sees_an_erasure_once_its_cache_expires(store_settings):
    reader, eraser = pii.KeyRing(store_settings, ttl=0.2), pii.KeyRing(store_settings, ttl=0)
    try:
        member = uuid.uuid4()
        sealed = reader.seal(member, "full_name", NAME, context="1")
        assert reader.unseal(sealed) == NAME
        eraser.shred(member, by="t", reason="r")
        import time

        time.sleep(0.25)
        assert reader.unseal(sealed) == pii.PLACEHOLDER
    finally:
        reader.close()
        eraser.close()


def test_reveal_opens_nested_values_and_messages(ring):
    a = uuid.uuid4()
    sealed = ring.seal(a, "full_name", NAME, context="1")
    doc = {"items": [{"full_name": sealed, "n": 3}, ("x", sealed)], "other": "plain"}
    assert ring.reveal(doc) == {"items": [{"full_name": NAME, "n": 3}, ("x", NAME)], "other": "plain"}
    assert ring.reveal_text(f"{sealed} is a probationary member") == f"{NAME} is a probationary member"


def test_the_wrapped_keys_are_not_the_data_keys(sqlite_settings):
    ring = pii.KeyRing(sqlite_settings, ttl=0)
    member = uuid.uuid4()
    sealed = ring.seal(member, "full_name", NAME, context="1")
    ring.close()
    with sqlite3.connect(sqlite_settings.sqlite_path("keys", "keys")) as conn:
        (wrapped,) = conn.execute("SELECT wrapped FROM pii_keys WHERE owner_id = ?", (str(member),)).fetchone()
    other_master = replace(sqlite_settings, pii_master_key=base64.b64encode(b"k" * 32).decode())
    stranger = pii.KeyRing(other_master, ttl=0)
    try:
        with pytest.raises(Exception):  # noqa: B017 - the wrong master key cannot unwrap (InvalidTag)
            stranger.unseal(sealed)
    finally:
        stranger.close()
    assert len(wrapped) > 40


def test_demo_keys_are_refused_unless_allowed(sqlite_settings):
    strict = replace(sqlite_settings, allow_demo_keys=False)
    with pytest.raises(pii.KeyConfigError, match="REFUSED"):
        pii.key_settings(strict)
    with pytest.raises(pii.KeyConfigError, match="REFUSED"):
        event_store_env(strict, "members")
    own = base64.b64encode(b"m" * 32).decode()
    keys = pii.key_settings(replace(strict, pii_master_key=own, cipher_key=base64.b64encode(b"c" * 32).decode()))
    assert keys.master == b"m" * 32
    with pytest.raises(pii.KeyConfigError, match="32 bytes"):
        pii.key_settings(replace(strict, pii_master_key=base64.b64encode(b"short").decode(), cipher_key=own))
    with pytest.raises(pii.KeyConfigError, match="base64"):
        pii.key_settings(replace(strict, pii_master_key="not base64!", cipher_key=own))


def test_the_distributed_config_refuses_the_demo_keys():
    from services.runner import service_config
    from shared.config import settings_from

    for service in ("members", "meetings", "reporting"):
        store = settings_from(service_config(service, env={})).store
        assert store.allow_demo_keys is False
        with pytest.raises(pii.KeyConfigError):
            pii.key_settings(store)
        allowed = settings_from(service_config(service, env={"CHIBO_ALLOW_DEMO_KEYS": "true"})).store
        assert pii.key_settings(allowed).cipher == pii.DEMO_CIPHER_KEY


def _raw_events(app) -> bytes:
    rows = app.recorder.select_notifications(start=0, limit=10_000)
    return b"".join(bytes(n.state) for n in rows)


def test_the_members_store_seals_names_and_publishes_them_sealed(store_settings):
    views = TrackedStore(store_settings, "members", "views")
    app = MembersApplication(env=event_store_env(store_settings, "members"), today=lambda: TODAY, views_store=views)
    try:
        ward = app.create_unit(kind="ward", name="Phường 1", code="P1", parent_id=None, block=None,
                               effective_from=dt.date(2020, 1, 1), by="t")
        cell = app.create_unit(kind="cell", name="Chi bộ 1", code="C1", parent_id=ward.id, block="residential",
                               effective_from=dt.date(2020, 1, 1), by="t")
        member = app.admit_member(code="M1", full_name=NAME, cell_id=cell.id, admitted_on=dt.date(2020, 2, 1),
                                  born_on=dt.date(1990, 5, 17), by="t")
        raw = _raw_events(app)
        assert NAME.encode() not in raw and "Chi bộ 1".encode() not in raw  # the store's cipher: nothing in clear
        assert app.mapper.cipher is not None
        # Under the cipher, the name is sealed with the member's key: decrypted state holds no name either.
        states = b"".join(app.mapper.cipher.decrypt(bytes(n.state))
                          for n in app.recorder.select_notifications(start=0, limit=100))
        assert NAME.encode() not in states and b"1990-05-17" not in states and b"pii:v1:" in states
        assert app.member(member.id)["full_name"] == NAME
        assert app.member(member.id)["born_on"] == "1990-05-17"
        admitted = [e for e in EnvelopeReader("members", app, translate).page(0, 100) if e.type == "MemberAdmitted"]
        assert pii.is_sealed(admitted[0].payload["full_name"])
        assert app.roster(cell.id, TODAY)["members"][0]["full_name"] == NAME
        history = app.member_history(member.id)["events"]
        assert history[0]["data"]["full_name"] == NAME

        tomb = app.erase_member(member_id=member.id, by="t", reason="r")
        assert tomb["reason"] == "r"
        app.pii._cache.clear()
        assert app.member(member.id)["full_name"] == pii.PLACEHOLDER
        assert app.member(member.id)["born_on"] is None
        assert app.roster(cell.id, TODAY)["members"][0]["full_name"] == pii.PLACEHOLDER
        assert app.roster(cell.id, TODAY)["counts"] == {"probationary": 1}
        assert app.member_history(member.id)["events"][0]["data"]["full_name"] == pii.PLACEHOLDER
    finally:
        app.close()
        views.close()


def test_a_refusal_naming_a_member_names_them_in_clear(sqlite_settings):
    from services.meetings.application import MeetingsApplication
    from shared.errors import Conflict, DomainError

    app = MeetingsApplication(env=event_store_env(sqlite_settings, "meetings"))
    try:
        sealed = app.pii.seal(uuid.uuid4(), "full_name", NAME, context="1")
        refused = Conflict("voters.0", f"{sealed} is a probationary member", rule="vote.probationary",
                           vi=f"{sealed} là đảng viên dự bị")
        opened = app.revealed(refused)
        assert isinstance(opened, Conflict) and opened.status == 409 and opened.rule == "vote.probationary"
        assert (opened.message, opened.vi) == (f"{NAME} is a probationary member", f"{NAME} là đảng viên dự bị")
        assert str(opened) == f"voters.0: {NAME} is a probationary member"
        plain = DomainError("date", "a meeting cannot be recorded as held in the future")
        assert app.revealed(plain) is plain
    finally:
        app.close()
