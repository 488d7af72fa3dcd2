"""The benchmarks that need the services running (tests/bench/city.py): queries and burst ingest.

The cluster (services/cluster.py: every service and relay as its own process, RabbitMQ on a vhost of its own)
serves a COPY of the generated stores (CREATE DATABASE ... TEMPLATE: chibo_bench_run_<scale>_*), reporting's
being the rebuilt one, with the relays' positions set at the logs' heads, so it starts caught up with the year
and the cached stores stay as generated. Rate limits are off (the stack is measured, not the limiter); the
pools are small (the PostgreSQL server's hundred connections are shared).

Queries: the dashboard (the year's roll-up by block) and the export (rollup.xlsx) of a ward (a commune's party
committee), a district and the whole city, under 20 concurrent readers; ceiling beside them: the same readers
on the cheapest authenticated endpoint (the OpenAPI document), i.e. the HTTP and auth stack alone.

Burst ingest: a month of the scale's cells' meetings (January after the year), one HoldMeeting command per
meeting (the attendance sheet with steps, speakers and dues) from concurrent clients; events per second
from the first request until reporting has applied the last event; freshness (command accepted -> reporting's
position covers the meeting's last event) from a poller; the same at half that rate (February); then
single-event commands (closing each meeting). Ceilings beside it, same meetings (March): the meetings
application in-process (aggregate, encryption, save) and eventsourcing's save alone; RabbitMQ publishing the
burst's envelopes with batched confirms and consuming them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import queue
import random
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import requests

from services.cluster import Cluster
from services.runner import free_port
from shared.config import StoreSettings
from tests.bench import pg

PG = {"host": "127.0.0.1", "user": "postgres"}
READERS = 20
WRITERS = 8
AGENDA_STEPS = ["opening", "news_and_policy", "review_and_follow_up", "ho_chi_minh_study", "discussion",
                "praise_and_criticism", "next_month_tasks", "conclusion_and_vote", "minutes_read"]


def admin() -> psycopg.Connection[Any]:
    return pg.connect("postgres", autocommit=True)


def drop_prefix(prefix: str) -> None:
    with admin() as conn:
        for (name,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "\\_%",)):
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def copy_stores(prefix: str, target: str, run_prefix: str, also: tuple[str, ...] = ()) -> None:
    drop_prefix(run_prefix)
    with admin() as conn:
        for service, source in (("members", "members"), ("meetings", "meetings"), ("reporting", target),
                                *((name, name) for name in also)):
            conn.execute(f'CREATE DATABASE "{run_prefix}_{service}" TEMPLATE "{prefix}_{source}"')


def relays_at_head(run_prefix: str) -> None:
    """The relays start where the year ends: scanned up to each log's head, last published = the last event
    reporting applied (so the next envelope's previous_position is what reporting expects)."""
    from shared.relay import RELAY_STATE_DDL
    from shared.stores import TrackedStore

    settings = StoreSettings(kind="postgres", pg_db_prefix=run_prefix)
    reporting = TrackedStore(settings, "reporting")
    try:
        for source in ("members", "meetings"):
            applied = reporting.position(source)
            state = TrackedStore(settings, source, name="relay")
            try:
                state.create_tables(RELAY_STATE_DDL)
                with pg.connect(f"{run_prefix}_{source}") as conn:
                    head = conn.execute(f"SELECT MAX(notification_id) FROM {source}_events").fetchone()[0]
                with state.tracked(f"relay:{source}", head) as sql:
                    sql.execute("INSERT INTO relay_state (source, last_published) VALUES (?, ?)", (source, applied))
            finally:
                state.close()
    finally:
        reporting.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] if ordered else float("nan")


def summary(latencies: list[float]) -> dict[str, Any]:
    ms = [v * 1000 for v in latencies]
    return {"n": len(ms), "p50_ms": round(pct(ms, 0.5), 1), "p95_ms": round(pct(ms, 0.95), 1),
            "p99_ms": round(pct(ms, 0.99), 1), "max_ms": round(max(ms), 1) if ms else None}


def concurrently(n: int, work: Callable[[int], None]) -> float:
    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


# -- queries -------------------------------------------------------------------------------------------------


def queries(cluster: Cluster, key: str, run_prefix: str, year: int, per_reader: int,
            city_scale: bool = False) -> dict[str, Any]:
    """The dashboard and export of a ward, a district and the whole city: in process (one reader), then under
    READERS concurrent readers, all on the same dashboard (computed once and kept) and each computing its own.
    `city_scale` (the 20,000-cell clone): the city-wide dashboard computed in process twice and once under
    READERS readers who share it; each computing its own would queue behind about 15 s of work per answer,
    and the city's export as much."""
    with pg.connect(f"{run_prefix}_reporting") as conn:
        units = {kind: conn.execute("SELECT unit_id FROM units WHERE kind = %s ORDER BY code LIMIT 1",
                                    (kind,)).fetchone()[0] for kind in ("commune", "district")}
    base = f"{cluster.urls['reporting']}/reporting"
    scopes = {"ward": {"unit": units["commune"]}, "district": {"unit": units["district"]}, "city": {}}
    cases: dict[str, tuple[str, dict[str, Any], bool]] = {
        "ceiling: openapi.json (HTTP + auth only)": ("/openapi.json", {}, False)}
    for scope, params in scopes.items():
        dashboard = {"period": str(year), "by": "block", **params}
        # every reader on the same dashboard: reporting computes it once and keeps it (answers.py); the p95 is
        # that computation, which the first round's readers wait for; then the same again, kept from the start
        cases[f"dashboard {scope}"] = ("/compliance/rollup", dashboard, False)
        cases[f"dashboard {scope}, kept"] = ("/compliance/rollup", dashboard, False)
        if city_scale and scope == "city":
            continue
        # the same, each answer computed: a parameter the roll-up ignores makes every request's key new
        cases[f"dashboard {scope}, each computed"] = ("/compliance/rollup", dashboard, True)
        cases[f"export {scope}"] = ("/exports/rollup.xlsx", {"period": str(year), **params}, False)
    out: dict[str, Any] = {}
    for scope, params in scopes.items():  # the query's own cost: in-process, one reader, no HTTP
        out[f"in-process dashboard {scope}"] = in_process(run_prefix, year, params.get("unit"),
                                                          times=2 if city_scale else 5)
    for name, (path, params, computed) in cases.items():
        out[name] = read_concurrently(base + path, params, key, per_reader, computed)
        print(f"  {name}: p50 {out[name]['p50_ms']} ms, p95 {out[name]['p95_ms']} ms, p99 {out[name]['p99_ms']} ms"
              f" ({out[name]['n']} answers, {out[name]['error_count']} errors)", flush=True)
    return out


def in_process(run_prefix: str, year: int, unit: str | None, times: int = 5) -> dict[str, Any]:
    """The roll-up the dashboard serves, computed in this process on the same store: `times` runs, one reader."""
    from services.reporting.queries import Queries
    from shared.clock import vietnam_today
    from shared.stores import TrackedStore

    store = TrackedStore(StoreSettings(kind="postgres", pg_db_prefix=run_prefix), "reporting", pool_size=1,
                         max_overflow=0)
    latencies = []
    try:
        with store.read() as sql:
            for _ in range(times):
                started = time.perf_counter()
                Queries(sql, vietnam_today()).rollup({"period": str(year), "by": "block"}
                                                     | ({"unit": unit} if unit else {}))
                latencies.append(time.perf_counter() - started)
    finally:
        store.close()
    return summary(latencies) | {"error_count": 0}


def read_concurrently(url: str, params: dict[str, Any], key: str, per_reader: int,
                      computed: bool = False) -> dict[str, Any]:
    """READERS clients, each GETting `url` `per_reader` times in a row: latency percentiles and throughput.
    `computed`: each request carries a parameter of its own (`_`), so no answer is served from memory."""
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()

    def reader(who: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        for i in range(per_reader):
            started = time.perf_counter()
            r = session.get(url, params=params | ({"_": f"{who}-{i}"} if computed else {}), timeout=300)
            elapsed = time.perf_counter() - started
            with lock:
                (latencies.append(elapsed) if r.status_code == 200 else errors.append(r.status_code))

    seconds = concurrently(READERS, reader)
    return summary(latencies) | {"errors": errors[:5], "error_count": len(errors),
                                 "requests_per_second": round(len(latencies) / seconds, 1)}


# -- burst ingest --------------------------------------------------------------------------------------------


def sheets(run_prefix: str, month: int, year: int, seed: int) -> list[dict[str, Any]]:
    """One regular meeting per open cell in `month`: the attendance sheet as HoldMeeting takes it."""
    from services.meetings.roster import RosterReader
    from shared.stores import TrackedStore

    store = TrackedStore(StoreSettings(kind="postgres", pg_db_prefix=run_prefix), "meetings")
    rng = random.Random(seed * 100 + month)
    out = []
    try:
        rosters = RosterReader(store)
        with store.read() as sql:
            cells = [r["unit_id"] for r in sql.execute(
                "SELECT u.unit_id FROM roster_units u WHERE u.kind = 'cell' AND NOT EXISTS"
                " (SELECT 1 FROM roster_unit_ends e WHERE e.unit_id = u.unit_id) ORDER BY u.unit_id").fetchall()]
        for cell in cells:
            day = dt.date(year, month, rng.randrange(5, 26))
            present, absent = [], []
            for m in rosters.roster_on(cell, day):
                if m.status in ("official", "probationary") and rng.random() < 0.9:
                    present.append(m.member_id)
                else:
                    absent.append({"member_id": m.member_id, "excused": True, "reason": "ốm"})
            if not present:
                continue
            out.append({"cell_id": cell, "kind": "regular", "date": day.isoformat(), "start_time": "14:00",
                        "end_time": "15:45", "place": "Hội trường", "present": present, "absent": absent,
                        "agenda_steps": [{"step": s, "note": ""} for s in AGENDA_STEPS],
                        "speakers": [{"member_id": m, "gist": "Ý kiến"} for m in present[:3]],
                        "dues": [{"member_id": m, "month": day.strftime("%Y-%m"), "paid": True} for m in present]})
    finally:
        store.close()
    return out


def reporting_position(cluster: Cluster) -> int:
    r = requests.get(f"{cluster.ops_urls['reporting']}/reporting/health", timeout=10)
    return int(r.json()["positions"].get("meetings", 0))


def submit(cluster: Cluster, key: str, run_prefix: str, batch: list[dict[str, Any]], rate: float | None,
           timeout: float = 900) -> dict[str, Any]:
    """POST each sheet from WRITERS clients (at most `rate` commands/s in all when given), poll reporting's
    position meanwhile; return rates and freshness once reporting has applied everything."""
    with pg.connect(f"{run_prefix}_reporting") as conn:
        before = int(conn.execute("SELECT COALESCE(MAX(position), 0) FROM events WHERE source = 'meetings'")
                     .fetchone()[0])
    work: queue.Queue[tuple[int, dict[str, Any]]] = queue.Queue()
    for i, sheet in enumerate(batch):
        work.put((i, sheet))
    accepted: dict[str, float] = {}
    failures: list[str] = []
    samples: list[tuple[float, int]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def poll() -> None:
        session = requests.Session()
        while not stop.is_set():
            try:
                r = session.get(f"{cluster.ops_urls['reporting']}/reporting/health", timeout=10)
                samples.append((time.perf_counter(), int(r.json()["positions"].get("meetings", 0))))
            except requests.RequestException:
                pass
            time.sleep(0.02)

    started = time.perf_counter()

    def writer(_: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        while True:
            try:
                i, sheet = work.get_nowait()
            except queue.Empty:
                return
            if rate:  # paced: command i is sent no earlier than i / rate seconds after the start
                wait = started + i / rate - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            try:
                r = session.post(f"{cluster.urls['meetings']}/meetings/meetings", json=sheet, timeout=120)
                answer = (str(r.json()["id"]), time.perf_counter()) if r.status_code < 300 else None
            except (requests.RequestException, ValueError, KeyError) as exc:
                r, answer = None, None
                failures.append(repr(exc))
            with lock:
                if answer is not None:
                    accepted[answer[0]] = answer[1]
                elif r is not None:
                    failures.append(f"{r.status_code} {r.text[:200]}")

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    http_seconds = concurrently(WRITERS, writer)
    goal = last_published(run_prefix, before)
    deadline = time.perf_counter() + timeout
    caught_up = None
    while time.perf_counter() < deadline:
        if samples and samples[-1][1] >= goal:
            caught_up = samples[-1][0]
            break
        time.sleep(0.05)
    stop.set()
    poller.join()
    with pg.connect(f"{run_prefix}_reporting") as conn:
        applied = int(conn.execute("SELECT COUNT(*) FROM events WHERE source = 'meetings' AND position > %s",
                                   (before,)).fetchone()[0])
        last_of = {r[0]: int(r[1]) for r in conn.execute(
            "SELECT meeting_id, MAX(position) FROM events WHERE source = 'meetings' AND position > %s"
            " GROUP BY meeting_id", (before,))}
    freshness = []
    for meeting_id, at in accepted.items():
        position = last_of.get(meeting_id)
        seen = next((t for t, p in samples if position is not None and p >= position), None)
        if seen is not None:
            freshness.append(max(0.0, seen - at))
    total = (caught_up or time.perf_counter()) - started
    return {"commands": len(accepted), "failures": len(failures), "failure_examples": failures[:3],
            "events": applied, "http_seconds": round(http_seconds, 2),
            "commands_per_second": round(len(accepted) / http_seconds, 1),
            "events_stored_per_second_http": round(applied / http_seconds),
            "seconds_to_caught_up": round(total, 2) if caught_up else None,
            "events_per_second_end_to_end": round(applied / total) if caught_up else None,
            "paced_commands_per_second": rate, "freshness": summary(freshness),
            # the poller's resolution: a freshness is late by at most the gap between two position samples
            "position_sample_gap_ms": summary([b[0] - a[0] for a, b in itertools.pairwise(samples)]),
            "meeting_ids": list(accepted)}


def last_published(run_prefix: str, after: int) -> int:
    """The position of the last published meetings event after `after` (0 when none): where reporting's
    position ends once it has applied the burst (the relay skips unpublished events, such as the calendars')."""
    from services.meetings.application import MeetingsApplication
    from services.meetings.integration import translate
    from shared.relay import EnvelopeReader
    from shared.stores import event_store_env

    app = MeetingsApplication(event_store_env(StoreSettings(kind="postgres", pg_db_prefix=run_prefix), "meetings"))
    last = 0
    try:
        reader = EnvelopeReader("meetings", app, translate)
        while True:
            page = reader.page(after, 1000)
            if not page:
                return last
            last = after = page[-1].position
    finally:
        app.close()


def close_each(cluster: Cluster, key: str, meeting_ids: list[str]) -> dict[str, Any]:
    """Single-event commands: close each meeting (one MeetingClosed each), from WRITERS clients."""
    work: queue.Queue[str] = queue.Queue()
    for m in meeting_ids:
        work.put(m)
    ok: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def writer(_: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        while True:
            try:
                m = work.get_nowait()
            except queue.Empty:
                return
            started = time.perf_counter()
            r = session.post(f"{cluster.urls['meetings']}/meetings/meetings/{m}/close", json={}, timeout=60)
            with lock:
                (ok.append(time.perf_counter() - started) if r.status_code < 300
                 else errors.append(f"{r.status_code} {r.text[:200]}"))

    seconds = concurrently(WRITERS, writer)
    return {"commands": len(ok), "errors": len(errors), "error_examples": errors[:3],
            "commands_per_second": round(len(ok) / seconds, 1), "latency": summary(ok)}


def save_ceiling(run_prefix: str, batch: list[dict[str, Any]], month: int) -> dict[str, Any]:
    """The same sheets (moved to `month`) through MeetingsApplication in-process, one thread: the whole
    command (aggregate, roster, encryption, save) and eventsourcing's save alone."""
    from services.meetings.application import MeetingsApplication
    from services.meetings.roster import RosterReader
    from shared.stores import TrackedStore, event_store_env

    settings = StoreSettings(kind="postgres", pg_db_prefix=run_prefix)
    app = MeetingsApplication(event_store_env(settings, "meetings"))
    replica = TrackedStore(settings, "meetings")
    saving = [0.0]
    original = app.save

    def timed_save(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            saving[0] += time.perf_counter() - started

    app.save = timed_save  # type: ignore[method-assign]
    before = app.recorder.max_notification_id() or 0
    started = time.perf_counter()
    try:
        rosters = RosterReader(replica)
        for sheet in batch:
            day = dt.date.fromisoformat(sheet["date"]).replace(month=month)
            app.hold_meeting(roster=rosters, cell_id=uuid.UUID(sheet["cell_id"]), kind="regular", topic=None,
                             date=day, start_time=dt.time(14), end_time=dt.time(15, 45), place="Hội trường",
                             chair_id=None, minute_taker_id=None, present=[uuid.UUID(m) for m in sheet["present"]],
                             absent=sheet["absent"], by="bench", agenda_steps=sheet["agenda_steps"],
                             speakers=sheet["speakers"],
                             dues=[d | {"month": day.strftime("%Y-%m")} for d in sheet["dues"]])
        seconds = time.perf_counter() - started
        stored = (app.recorder.max_notification_id() or 0) - before
    finally:
        app.close()
        replica.close()
    return {"commands": len(batch), "events_stored": stored, "seconds": round(seconds, 2),
            "events_per_second_in_process": round(stored / seconds), "save_seconds": round(saving[0], 2),
            "events_per_second_save_only": round(stored / saving[0]) if saving[0] else None}


def rabbit_ceiling(amqp_uri: str, run_prefix: str, after: int, batch_size: int = 500) -> dict[str, Any]:
    """The burst's envelopes (as the relay publishes them) published to a queue of their own with batched
    publisher confirms, then consumed (acked in batches): RabbitMQ's own rate for these messages."""
    import amqp

    from services.meetings.application import MeetingsApplication
    from services.meetings.integration import translate
    from shared.relay import EnvelopeReader
    from shared.stores import event_store_env

    app = MeetingsApplication(event_store_env(StoreSettings(kind="postgres", pg_db_prefix=run_prefix), "meetings"))
    try:
        reader = EnvelopeReader("meetings", app, translate)
        bodies: list[bytes] = []
        while True:
            page = reader.page(after, 1000)
            if not page:
                break
            bodies += [json.dumps(e.to_json(), ensure_ascii=False).encode() for e in page]
            after = page[-1].position
    finally:
        app.close()
    vhost = amqp_uri.rsplit("/", 1)[1]
    conn = amqp.Connection(host="127.0.0.1:5672", userid="guest", password="guest", virtual_host=vhost)
    conn.connect()
    channel = conn.channel()
    name = f"bench-ceiling-{uuid.uuid4().hex[:6]}"
    channel.queue_declare(name, durable=True, auto_delete=False)
    channel.confirm_select()
    acked = [0]

    def on_ack(delivery_tag: int, multiple: bool) -> None:
        acked[0] = max(acked[0], delivery_tag)

    channel.events["basic_ack"].add(on_ack)
    started = time.perf_counter()
    for i in range(0, len(bodies), batch_size):
        for body in bodies[i:i + batch_size]:
            channel.basic_publish(amqp.Message(body, delivery_mode=2, content_type="application/json"),
                                  exchange="", routing_key=name)
        while acked[0] < min(i + batch_size, len(bodies)):  # wait for the batch's confirms
            conn.drain_events(timeout=30)
    published = time.perf_counter() - started
    received = [0]
    consumer = conn.channel()
    consumer.basic_qos(0, 1000, False)

    def on_message(message: amqp.Message) -> None:
        received[0] += 1
        if received[0] % 500 == 0 or received[0] == len(bodies):
            consumer.basic_ack(message.delivery_tag, multiple=True)

    started = time.perf_counter()
    tag = consumer.basic_consume(name, callback=on_message)
    while received[0] < len(bodies):
        conn.drain_events(timeout=30)
    consumed = time.perf_counter() - started
    consumer.basic_cancel(tag)
    channel.queue_delete(name)
    conn.close()
    return {"messages": len(bodies), "bytes": sum(map(len, bodies)), "publish_seconds": round(published, 2),
            "published_per_second": round(len(bodies) / published),
            "consume_seconds": round(consumed, 2), "consumed_per_second": round(len(bodies) / consumed),
            "events_per_second_publish_and_consume": round(len(bodies) / (published + consumed)),
            "confirm_batch": batch_size}


# -- the run -------------------------------------------------------------------------------------------------


def ingest(scale: str, cluster: Cluster, key: str, run_prefix: str, amqp_uri: str, manifest: dict[str, Any],
           half_rate: bool) -> dict[str, Any]:
    year = manifest["year"]
    print(f"\n[{scale}] burst ingest: a month of meetings from {WRITERS} clients ...", flush=True)
    january = sheets(run_prefix, 1, year + 1, manifest["seed"])
    with pg.connect(f"{run_prefix}_meetings") as conn:
        head_before = int(conn.execute("SELECT MAX(notification_id) FROM meetings_events").fetchone()[0])
    burst = submit(cluster, key, run_prefix, january, rate=None)
    ids = burst.pop("meeting_ids")
    print(f"  burst: {burst['commands']} commands, {burst['events']} events, "
          f"{burst['events_per_second_end_to_end']} events/s end to end; freshness {burst['freshness']}"
          f"{'; refused: ' + str(burst['failure_examples']) if burst['failures'] else ''}", flush=True)
    half = None
    if half_rate and burst["commands_per_second"]:
        february = sheets(run_prefix, 2, year + 1, manifest["seed"])
        half = submit(cluster, key, run_prefix, february,
                      rate=round(burst["commands"] / burst["seconds_to_caught_up"] / 2, 2)
                      if burst["seconds_to_caught_up"] else burst["commands_per_second"] / 2)
        half.pop("meeting_ids")
        print(f"  at half the rate: freshness {half['freshness']}", flush=True)
    single = close_each(cluster, key, ids)
    print(f"  single-event commands (close): {single['commands_per_second']}/s", flush=True)
    rabbit = rabbit_ceiling(amqp_uri, run_prefix, head_before)
    print(f"  ceiling RabbitMQ: {rabbit['events_per_second_publish_and_consume']} msgs/s publish+consume", flush=True)
    # the same meetings moved to March, in-process, the relay stopped (it would publish them meanwhile)
    cluster.stop("relay-meetings")
    saving = save_ceiling(run_prefix, january, 3)
    print(f"  ceiling eventsourcing: {saving['events_per_second_save_only']} events/s save only, "
          f"{saving['events_per_second_in_process']} events/s whole command in-process", flush=True)
    return {"burst": burst, "half_rate": half, "single_event": single, "rabbitmq": rabbit, "eventsourcing": saving}


@contextlib.contextmanager
def served(scale: str, prefix: str, target: str, run_prefix: str | None = None,
           also: tuple[str, ...] = ()) -> Iterator[tuple[Cluster, str, str]]:
    """The cluster serving a copy of `prefix`'s stores (reporting: `target`; `also`: more of its databases
    copied as they are, e.g. "keys") on a vhost of its own: (cluster, a machine key, the AMQP URI). The copies
    and the vhost are removed at the end."""
    run_prefix = run_prefix or f"chibo_bench_run_{scale}"
    vhost = f"chibo-bench-{uuid.uuid4().hex[:6]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True,
                   capture_output=True)
    amqp_uri = f"pyamqp://guest:guest@127.0.0.1:5672/{vhost}"
    copy_stores(prefix, target, run_prefix, also)
    relays_at_head(run_prefix)
    cluster = Cluster(amqp_uri=amqp_uri, db_prefix=run_prefix,
                      ports={s: free_port() for s in ("members", "meetings", "reporting")},
                      ops_ports={s: free_port() for s in ("members", "meetings", "reporting", "relay-members",
                                                          "relay-meetings")},
                      extra_env={"LOG_LEVEL": "WARNING", "CHIBO_RATE_LIMIT": "0", "CHIBO_RATE_LIMIT_MACHINE": "0",
                                 "CHIBO_PG_POOL_SIZE": "1", "CHIBO_PG_MAX_OVERFLOW": "2"})
    try:
        cluster.start(timeout=120)
        from services.runner import machine_key

        yield cluster, machine_key(cluster.store, "bench"), amqp_uri
    finally:
        cluster.stop()
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False, capture_output=True)
        drop_prefix(run_prefix)


def run(scale: str, prefix: str, target: str, manifest: dict[str, Any], parts: set[str],
        half_rate: bool = True) -> dict[str, Any]:
    """Queries and/or ingest on a copy of `prefix`'s stores (reporting: `target`); half_rate: also the
    freshness run at half the burst's end-to-end rate (as long again as the burst, twice over)."""
    run_prefix = f"chibo_bench_run_{scale}"
    out: dict[str, Any] = {}
    year = manifest["year"]
    with served(scale, prefix, target, run_prefix) as (cluster, key, amqp_uri):
        if "queries" in parts:
            print(f"\n[{scale}] queries, {READERS} concurrent readers:", flush=True)
            out["queries"] = queries(cluster, key, run_prefix, year, per_reader=2 if scale != "ward" else 5,
                                     city_scale=scale == "city")
        if "ingest" in parts:
            try:
                out["ingest"] = ingest(scale, cluster, key, run_prefix, amqp_uri, manifest, half_rate)
            except Exception as exc:  # recorded with what the queries gave; the run goes on
                out["ingest_error"] = f"{type(exc).__name__}: {exc}"
                print(f"  ingest FAILED: {out['ingest_error']}", flush=True)
    return out
