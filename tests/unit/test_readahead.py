"""shared/readahead.py: a forked child produces, this process consumes, in order; failures and early stops."""

import os

import pytest

from shared.readahead import ReadAheadError, read_ahead


def test_items_arrive_in_order_from_another_process():
    def produce():
        for i in range(1203):  # three pages of 500 and a short one
            yield {"position": i, "pid": os.getpid(), "text": "Chi bộ số " + str(i)}

    items = list(read_ahead(produce, page=500))
    assert [item["position"] for item in items] == list(range(1203))
    assert {item["pid"] for item in items} != {os.getpid()}  # produced in the child
    assert items[7]["text"] == "Chi bộ số 7"
    assert list(read_ahead(lambda: iter(()))) == []


def test_a_producer_error_reaches_the_consumer_after_what_was_produced():
    def produce():
        yield from range(3)
        raise ValueError("log unreadable at 3")

    got = []
    with pytest.raises(ReadAheadError, match="ValueError: log unreadable at 3"):
        for item in read_ahead(produce, page=1):
            got.append(item)
    assert got == [0, 1, 2]


def test_a_consumer_that_stops_early_ends_the_child():
    def produce():
        yield os.getpid()
        while True:  # endless: only the consumer's stop can end it
            yield "x" * 1000

    items = read_ahead(produce, page=10)
    child = next(items)
    assert child != os.getpid() and next(items) == "x" * 1000
    items.close()  # stops and reaps the child (a child still running would block the close for ever)
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)  # gone, not even a zombie
