"""Reporting's kept roll-ups (services/reporting/answers.py): one computation per key, however many ask."""

from __future__ import annotations

import threading
import time

import pytest

from services.reporting.answers import Answers, waiting


def test_concurrent_readers_of_one_key_share_one_computation() -> None:
    answers = Answers("test")
    started = threading.Event()
    calls: list[int] = []

    def compute() -> dict[str, int]:
        calls.append(1)
        started.set()
        time.sleep(0.3)  # long enough for every other reader to arrive while it runs
        return {"cells": 417}

    results: list[dict[str, int]] = []
    threads = [threading.Thread(target=lambda: results.append(waiting(lambda: answers.get("k1", compute))))
               for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and answers.computed == 1
    assert results == [{"cells": 417}] * 20
    assert answers.get("k1", compute) == {"cells": 417} and len(calls) == 1  # later: from memory


def test_a_new_key_computes_again_and_the_oldest_answer_goes_first() -> None:
    answers = Answers("test", size=2)
    for key in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" arrives
        answers.get(key, lambda key=key: key.upper())
    assert answers.computed == 3 and len(answers) == 2
    answers.get("a", lambda: "recomputed")
    assert answers.computed == 3
    assert answers.get("b", lambda: "B again") == "B again" and answers.computed == 4


def test_a_failed_computation_is_not_kept_and_a_waiting_reader_computes_it_again() -> None:
    answers = Answers("test")
    first_running = threading.Event()

    def failing() -> str:
        first_running.set()
        time.sleep(0.2)
        raise RuntimeError("database gone")

    outcome: list[str] = []

    def second_reader() -> None:
        first_running.wait()
        outcome.append(waiting(lambda: answers.get("k", lambda: "from the second reader")))

    waiter = threading.Thread(target=second_reader)
    waiter.start()
    with pytest.raises(RuntimeError):
        answers.get("k", failing)
    waiter.join()
    assert outcome == ["from the second reader"]
    assert answers.get("k", lambda: "not asked") == "from the second reader"


def test_a_reader_arriving_during_a_computation_is_told_to_wait_not_made_to_wait() -> None:
    """The service waits outside its database transaction, so `get` must not block: it raises Pending."""
    from services.reporting.answers import Pending

    answers = Answers("test")
    running, release = threading.Event(), threading.Event()

    def slow() -> str:
        running.set()
        release.wait(5)
        return "done"

    computing = threading.Thread(target=lambda: answers.get("k", slow))
    computing.start()
    running.wait(5)
    with pytest.raises(Pending) as pending:
        answers.get("k", lambda: "a second computation")
    assert not pending.value.done.is_set()
    release.set()
    assert pending.value.done.wait(5)
    computing.join()
    assert answers.get("k", lambda: "not asked") == "done" and answers.computed == 1


def test_readers_waiting_for_a_long_computation_hold_no_connection(postgres_settings) -> None:
    """The service's way (answers.waiting): a reader told to wait leaves its read first. Six readers of one
    answer whose computation holds its connection for longer than the pool lends (5 s), on a pool of two: all
    get the answer, computed once. Waiting inside the read, the second reader would hold the other connection
    and the rest would time out (what 20 readers of the city's dashboard did: BENCHMARKS.md)."""
    from shared.stores import TrackedStore

    store = TrackedStore(postgres_settings, "answers_wait", pool_size=1, max_overflow=1)
    answers = Answers("test")

    def compute(sql) -> int:
        time.sleep(6)
        return int(sql.scalar("SELECT 41") + 1)

    def attempt() -> int:
        with store.read() as sql:
            sql.scalar("SELECT 1")  # as the service reads its positions first
            return answers.get("key", lambda: compute(sql))

    try:
        results: list[object] = []
        threads = [threading.Thread(target=lambda: results.append(_safe(lambda: waiting(attempt))))
                   for _ in range(6)]
        for t in threads:
            t.start()
            time.sleep(0.05)
        for t in threads:
            t.join()
        assert results == [42] * 6 and answers.computed == 1
    finally:
        store.close()


def _safe(call):
    try:
        return call()
    except Exception as exc:  # the assertion shows which reader failed and how
        return exc
