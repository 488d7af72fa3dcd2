"""Eventlet for the serving processes (`chibo run`, `chibo demo`): patch first, then check psycopg waits green.

psycopg 3 picks its wait function and its selector class once, when it is first imported (design.md §6). If
anything imports it before `eventlet.monkey_patch()` (a module-level `import psycopg` reached while the CLI
builds its parser was enough), every query waits in a real epoll and stalls every greenthread of the process:
a service then serves one request at a time while PostgreSQL answers. `serve_green` patches before any chibo
import and refuses to go on when psycopg is not on the hub.
"""

from __future__ import annotations

import sys


def psycopg_blocks_hub() -> str | None:
    """Why psycopg's queries would block eventlet's hub in this process; None when they wait through it."""
    import selectors

    from eventlet import patcher

    if not patcher.is_monkey_patched("select"):
        return "eventlet.monkey_patch() has not patched select"
    import psycopg.waiting as waiting

    if waiting.wait is not waiting.wait_selector:
        return (f"psycopg waits with {waiting.wait.__name__}, not wait_selector: PSYCOPG_WAIT_FUNC was not set "
                "when psycopg was imported (import `shared` first)")
    if waiting.DefaultSelector is not selectors.DefaultSelector:
        return (f"psycopg's selector is the unpatched {waiting.DefaultSelector.__name__}: psycopg was imported "
                "before eventlet.monkey_patch()")
    return None


def serve_green() -> None:
    """Monkey-patch for eventlet, set psycopg's wait function, and exit when psycopg would block the hub."""
    import warnings

    # The stack (nameko 2.14) is built on eventlet; its deprecation banner is known (README, design.md §6).
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()  # before any socket, thread or database module is used
    import shared  # noqa: F401 - sets PSYCOPG_WAIT_FUNC before psycopg is imported

    problem = psycopg_blocks_hub()
    if problem:
        sys.exit(f"chibo: refusing to serve: {problem} (every query would stall the whole process)")
    from shared import cooperative

    cooperative.install(lambda: eventlet.sleep(0))  # long loops give the other greenthreads their turn
