"""Tamper evidence (issue 7): events recorded through the real members application, a checkpoint, then the
stored rows edited with raw SQL as an attacker with database access would; verify must name the position."""

import hashlib
import sqlite3
import uuid
from contextlib import contextmanager

import psycopg
import pytest
import yaml

from services.cli import main
from shared import audit
from tests.unit.test_members_application import make_app, member, unit


@contextmanager
def raw(settings):
    """A plain connection to the members event store, and the name of its notification id column."""
    if settings.kind == "sqlite":
        conn = sqlite3.connect(str(settings.sqlite_path("members", "events")))
        column, param = "rowid", "?"
    else:
        conn = psycopg.connect(dbname=settings.dbname("members"), host="127.0.0.1", user="postgres")
        column, param = "notification_id", "%s"
    try:
        table = audit.events_table(settings, "members")
        yield (lambda sql, args=(): conn.execute(
            sql.format(id=column).replace("stored_events", table).replace("?", param), args)), conn
        conn.commit()
    finally:
        conn.close()


@pytest.fixture
def app(store_settings):
    app = make_app(store_settings)
    ward = unit(app, "ward", "W")
    cell = unit(app, "cell", "W-1", ward)
    member(app, cell, "A0")
    app.cell = cell  # for tests that append more
    yield app
    app.close()


def events(settings):
    with raw(settings) as (sql, _):
        return sql("SELECT count(*) FROM stored_events").fetchone()[0]


def checkpoint(settings):
    result, recorded = audit.record_checkpoint(settings, "members")
    assert recorded and result.ok
    return result


def test_the_chain_is_sha256_over_the_stored_bytes_and_an_untouched_store_is_intact(app, store_settings):
    assert audit.verify(store_settings, "members").checkpoints == []
    head = checkpoint(store_settings)
    n = events(store_settings)
    assert n >= 6 and (head.events, head.head_position) == (n, n)  # a fresh store numbers 1..n

    # h_1 by hand from the first stored row
    with raw(store_settings) as (sql, _):
        oid, version, topic, state = sql("SELECT originator_id, originator_version, topic, state FROM stored_events "
                                         "WHERE {id} = 1").fetchone()
    oid = str(oid)
    h0 = hashlib.sha256(b"chibo-audit-v1:members").digest()
    row = (b"\x00" * 7 + b"\x01" + len(oid).to_bytes(4, "big") + oid.encode() + version.to_bytes(8, "big")
           + len(topic).to_bytes(4, "big") + topic.encode() + len(state).to_bytes(4, "big") + bytes(state))
    first = audit.StoredRow(1, oid, version, topic, bytes(state))
    assert audit.link(h0, first) == hashlib.sha256(h0 + row).digest()

    again = audit.verify(store_settings, "members")
    assert again.ok and again.head_hash == head.head_hash and again.uncovered == 0
    assert audit.describe(again, "en")[0] == f"members: intact up to position {n} (1 checkpoint)"


def test_a_modified_event_is_named_by_its_position(app, store_settings):
    checkpoint(store_settings)
    with raw(store_settings) as (sql, _):
        sql("UPDATE stored_events SET state = ? WHERE {id} = 3", (b"forged",))
    result = audit.verify(store_settings, "members")
    assert result.finding == audit.Finding("modified", 3)
    assert "vị trí 3 đã bị sửa" in audit.describe(result)[0]
    # a tampered store gets no new checkpoint blessing the change
    assert audit.record_checkpoint(store_settings, "members")[1] is False


def test_a_deleted_event_is_caught(app, store_settings):
    checkpoint(store_settings)
    with raw(store_settings) as (sql, _):
        sql("DELETE FROM stored_events WHERE {id} = 4")
    assert audit.verify(store_settings, "members").finding == audit.Finding("deleted", 4)


def test_deleting_the_last_checkpointed_event_is_caught(app, store_settings):
    n = checkpoint(store_settings).head_position
    with raw(store_settings) as (sql, _):
        sql("DELETE FROM stored_events WHERE {id} = ?", (n,))
    assert audit.verify(store_settings, "members").finding == audit.Finding("deleted", n)


def test_swapped_states_are_reported_as_reordered(app, store_settings):
    checkpoint(store_settings)
    with raw(store_settings) as (sql, _):
        s2, s5 = (sql("SELECT state FROM stored_events WHERE {id} = ?", (i,)).fetchone()[0] for i in (2, 5))
        sql("UPDATE stored_events SET state = ? WHERE {id} = 2", (s5,))
        sql("UPDATE stored_events SET state = ? WHERE {id} = 5", (s2,))
    assert audit.verify(store_settings, "members").finding == audit.Finding("reordered", 2, 5)


def _hole(settings, sql):
    """A notification id no event will take, as a rolled-back insert leaves on PostgreSQL."""
    if settings.kind == "postgres":
        return sql("SELECT nextval(pg_get_serial_sequence('members_events', 'notification_id'))").fetchone()[0]
    # SQLite numbers max(rowid) + 1: a placeholder row keeps the id from the next event, then goes
    hole = sql("SELECT max(rowid) + 1 FROM stored_events").fetchone()[0]
    sql("INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) "
        "VALUES (?, 'placeholder', 1, 'x', x'00')", (hole,))
    return hole


def test_a_hole_in_the_ids_is_not_a_deletion_but_a_row_forged_into_it_is_an_insertion(app, store_settings):
    with raw(store_settings) as (sql, _):
        hole = _hole(store_settings, sql)
    member(app, app.cell, "A1")  # takes the ids after the hole
    if store_settings.kind == "sqlite":
        with raw(store_settings) as (sql, _):
            sql("DELETE FROM stored_events WHERE rowid = ?", (hole,))
    head = checkpoint(store_settings)
    assert head.head_position > hole and head.events == head.head_position - 1
    assert audit.verify(store_settings, "members").ok

    with raw(store_settings) as (sql, _):
        sql("INSERT INTO stored_events (originator_id, originator_version, topic, state, {id}) "
            "VALUES (?, 1, 'services.members.domain:Member.Admitted', ?, ?)",
            (str(uuid.uuid4()) if store_settings.kind == "postgres" else uuid.uuid4().hex, b"forged", hole))
    assert audit.verify(store_settings, "members").finding == audit.Finding("inserted", hole)


def test_a_row_forged_in_with_the_later_ids_renumbered_is_an_insertion(app, store_settings):
    checkpoint(store_settings)
    with raw(store_settings) as (sql, _):  # two steps: the id is unique at every row on PostgreSQL
        sql("UPDATE stored_events SET {id} = {id} + 1000 WHERE {id} >= 3")
        sql("UPDATE stored_events SET {id} = {id} - 999 WHERE {id} >= 1003")
        sql("INSERT INTO stored_events (originator_id, originator_version, topic, state, {id}) "
            "VALUES (?, 1, 'services.members.domain:Member.Admitted', ?, 3)",
            (str(uuid.uuid4()) if store_settings.kind == "postgres" else uuid.uuid4().hex, b"forged"))
    assert audit.verify(store_settings, "members").finding == audit.Finding("inserted", 3)


def test_events_after_the_checkpoint_are_uncovered_until_the_next_one_which_extends_the_chain(app, store_settings):
    first = checkpoint(store_settings)
    member(app, app.cell, "A1")
    later = audit.verify(store_settings, "members")
    assert later.ok and later.uncovered == later.events - first.events > 0
    second = checkpoint(store_settings)
    assert [c.position for c in second.checkpoints] == [first.head_position, second.head_position]
    assert audit.record_checkpoint(store_settings, "members")[1] is False  # nothing new: no checkpoint
    with raw(store_settings) as (sql, _):  # tampering inside the newly covered part is caught too
        sql("UPDATE stored_events SET topic = 'x' WHERE {id} = ?", (first.head_position + 1,))
    assert audit.verify(store_settings, "members").finding == audit.Finding("modified", first.head_position + 1)


def test_an_altered_checkpoint_hash_is_caught(app, store_settings):
    n = checkpoint(store_settings).head_position
    store = audit.AuditStore(store_settings)
    with store.store.write() as sql:
        sql.execute("UPDATE audit_checkpoints SET hash = ? WHERE service = 'members'", ("00" * 32,))
    store.close()
    assert audit.verify(store_settings, "members").finding == audit.Finding("checkpoint", n)


def _config(tmp_path, settings):
    path = tmp_path / "members.yml"
    path.write_text(yaml.safe_dump({"AMQP_URI": "memory://", "CHIBO": {
        "store": settings.kind, "data_dir": settings.data_dir, "pg_db_prefix": settings.pg_db_prefix}}))
    return str(path)


def test_the_cli_exits_0_when_intact_1_when_tampered_in_vietnamese_by_default(app, store_settings, tmp_path, capsys):
    config = ["--service", "members", "--config", _config(tmp_path, store_settings)]
    assert main(["audit", "checkpoint", *config]) == 0
    assert "đã ghi điểm kiểm tra" in capsys.readouterr().out
    assert main(["audit", "verify", *config]) == 0
    with raw(store_settings) as (sql, _):
        sql("UPDATE stored_events SET state = ? WHERE {id} = 2", (b"forged",))
    assert main(["audit", "verify", *config]) == 1
    assert "members: BỊ SỬA ĐỔI — sự kiện ở vị trí 2 đã bị sửa" in capsys.readouterr().out
    assert main(["audit", "verify", *config, "--lang", "en"]) == 1
    assert "members: TAMPERED — the event at position 2 was modified" in capsys.readouterr().out


def test_the_cli_reads_the_embedded_data_dir_and_exits_2_without_a_traceback(sqlite_settings, tmp_path, capsys):
    app = make_app(sqlite_settings)
    unit(app, "ward", "W")
    app.close()
    embedded = ["--embedded", "--data-dir", sqlite_settings.data_dir, "--service", "members"]
    assert main(["audit", "checkpoint", *embedded]) == 0
    assert main(["audit", "verify", *embedded, "--lang", "en"]) == 0
    assert "members: intact up to position 2 (1 checkpoint)"  # a ward: 2 events in capsys.readouterr().out
    assert main(["audit", "verify", "--embedded", "--data-dir", str(tmp_path / "none"), "--service", "members"]) == 2
    assert "không có kho sự kiện của members" in capsys.readouterr().err
