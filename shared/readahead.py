"""Read ahead on the second core: a forked child process produces the items while this process consumes them.

A replay spends about half its time reading the sources' logs (decrypting each event, translating it to its
integration contract, serialising it) and half projecting them into reporting's tables; one process does the two
in turn on one core. `read_ahead` runs the reading in a child process, so the two halves overlap on two cores
(tests/bench, BENCHMARKS.md "Replay").

Why fork and a pipe, not multiprocessing's queues or a pool: the producer is a closure over open source
applications (not picklable), fork gives the child those as they are; a pipe needs no feeder thread, which
matters under eventlet's monkey-patching (the test run, `chibo run`). The child only reads: it never touches
the parent's database connections beyond the producer's own, writes pickled pages to the pipe and leaves with
`os._exit`, so no finaliser of the parent's objects runs twice.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_HEADER = struct.Struct("!Q")


class ReadAheadError(RuntimeError):
    """The producer failed in the child process (its error's type and message)."""


def read_ahead(produce: Callable[[], Iterable[Any]], page: int = 500) -> Iterator[Any]:
    """Yield what `produce()` yields, in order, produced in a forked child `page` items at a time.

    The child blocks when the pipe is full (about 64 KB ahead), so memory stays bounded. Closing the iterator
    early (the consumer stopped or failed) ends the child."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: produce, write, exit without running the parent's finalisers
        os.close(read_fd)
        status = 0
        try:
            with os.fdopen(write_fd, "wb") as out:
                items: list[Any] = []
                try:
                    for item in produce():
                        items.append(item)
                        if len(items) >= page:
                            _send(out, ("items", items))
                            items = []
                    _send(out, ("items", items))
                    _send(out, ("end", None))
                except BaseException as exc:  # reported to the parent, whatever it is
                    _send(out, ("error", f"{type(exc).__name__}: {exc}"))
                    status = 1
        except BaseException:  # the parent went away (broken pipe): nothing to tell
            status = 1
        os._exit(status)
    os.close(write_fd)
    finished = False
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            while True:
                kind, value = _receive(pipe)
                if kind == "items":
                    yield from value
                elif kind == "end":
                    finished = True
                    return
                else:
                    raise ReadAheadError(value)
    finally:
        _reap(pid, stop=not finished)


def _send(out: Any, message: tuple[str, Any]) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(data)))
    out.write(data)
    out.flush()


def _receive(pipe: Any) -> tuple[str, Any]:
    header = pipe.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise ReadAheadError("the reading process ended without finishing")
    (size,) = _HEADER.unpack(header)
    data = pipe.read(size)
    if len(data) < size:
        raise ReadAheadError("the reading process ended mid-page")
    return pickle.loads(data)  # our own child's pages, through our own pipe


def _reap(pid: int, stop: bool) -> None:
    """Wait for the child; when the consumer stopped early, stop it first (it may be blocked on a full pipe)."""
    if stop:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    os.waitpid(pid, 0)
