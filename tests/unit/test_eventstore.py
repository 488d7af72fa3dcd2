"""ChiboApplication.record: idempotency receipts and optimistic concurrency, on SQLite and PostgreSQL."""

import uuid

import pytest
from eventsourcing.domain import Aggregate, event

from shared.errors import Conflict, DomainError
from shared.eventstore import ChiboApplication, check_version
from shared.idempotency import CommandKey
from shared.stores import event_store_env


class Note(Aggregate):
    @event("Written")
    def __init__(self, text: str):
        self.text = text

    @event("Edited")
    def edit(self, text: str) -> None:
        self.text = text


@pytest.fixture
def apps(store_settings):
    env = event_store_env(store_settings, "unit_eventstore")
    apps = ChiboApplication(env=env), ChiboApplication(env=env)
    yield apps
    for app in apps:
        app.close()


def test_record_saves_the_receipt_with_the_command_and_answers_a_repeat_with_the_first_result(apps):
    app, _ = apps
    key = CommandKey.of("k-1", "POST /notes", {"text": "a"})
    assert app.prior_result(key) is None
    note = Note(text="a")
    app.record(note, key=key)
    assert app.prior_result(key) == note.id
    with pytest.raises(DomainError) as refused:
        app.prior_result(CommandKey.of("k-1", "POST /notes", {"text": "b"}))
    assert refused.value.field == "Idempotency-Key"


def test_a_concurrent_edit_of_the_same_version_loses_with_409_and_stores_nothing(apps):
    first, second = apps
    note = Note(text="a")
    first.record(note)
    mine, theirs = first.repository.get(note.id), second.repository.get(note.id)
    mine.edit("mine")
    theirs.edit("theirs")
    first.record(mine)
    with pytest.raises(Conflict) as lost:
        second.record(theirs, key=CommandKey.of("k-2", "PUT", {}))
    assert lost.value.status == 409
    assert first.repository.get(note.id).text == "mine"
    assert second.prior_result(CommandKey.of("k-2", "PUT", {})) is None  # the receipt was not stored either


def test_check_version_refuses_a_form_loaded_before_a_change():
    note = Note(text="a")
    check_version(note, None)
    check_version(note, note.version)
    note.edit("b")
    with pytest.raises(Conflict) as stale:
        check_version(note, 1)
    assert stale.value.field == "expected_version"


def test_receipt_ids_depend_on_the_key_only():
    assert CommandKey.of("x", "a", 1).receipt_id == CommandKey.of("x", "b", 2).receipt_id
    assert CommandKey.of("x", "a", 1).receipt_id != CommandKey.of("y", "a", 1).receipt_id
    assert isinstance(CommandKey.of("x", "a", 1).receipt_id, uuid.UUID)
