"""Reporting's kept roll-ups (services/reporting/answers.py): one computation per key, however many ask."""

from __future__ import annotations

import threading
import time

import pytest

from services.reporting.answers import Answers


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
    threads = [threading.Thread(target=lambda: results.append(answers.get("k1", compute))) for _ in range(20)]
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
        outcome.append(answers.get("k", lambda: "from the second reader"))

    waiter = threading.Thread(target=second_reader)
    waiter.start()
    with pytest.raises(RuntimeError):
        answers.get("k", failing)
    waiter.join()
    assert outcome == ["from the second reader"]
    assert answers.get("k", lambda: "not asked") == "from the second reader"
