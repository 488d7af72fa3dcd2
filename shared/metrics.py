"""Prometheus metrics shared by every service and relay (prefix `chibo_`, base units, no id labels)."""

from prometheus_client import Counter, Gauge, Histogram, Info

EVENTS_STORED = Counter(
    "chibo_events_stored_total", "Domain events committed to a service's event store, per type", ["service", "type"]
)
EVENTS_PUBLISHED = Counter(
    "chibo_events_published_total", "Integration events confirmed by the broker", ["source", "type"]
)
RELAY_ACTIVE = Gauge(
    "chibo_relay_active", "1 while this relay process holds its source's single-active lock and publishes", ["source"]
)
RELAY_LOCK_LOST = Counter(
    "chibo_relay_lock_lost_total", "Times the relay found its single-active lock gone and stopped publishing",
    ["source"],
)
RELAY_POSITION = Gauge("chibo_relay_position", "Last notification position the relay recorded", ["source"])
CONSUMER_EVENTS = Counter(
    "chibo_consumer_events_total",
    "Events handled by a tracked consumer, by outcome (applied, duplicate, dead_lettered, gap_filled, redriven;"
    " retried: kept in hand after an infrastructure error)",
    ["consumer", "source", "outcome"],
)
CONSUMER_POSITION = Gauge(
    "chibo_consumer_position", "Last source position applied by a consumer", ["consumer", "source"]
)
HTTP_REQUESTS = Counter(
    "chibo_http_requests_total", "HTTP requests by route template and status class", ["service", "route", "status"]
)
HTTP_DURATION = Histogram(
    "chibo_http_request_duration_seconds", "HTTP request duration", ["service", "route"]
)
CONSUMER_DURATION = Histogram(
    "chibo_consumer_duration_seconds",
    "Time a tracked consumer spent on one batch of delivered messages (gap filling included), by outcome"
    " (ack; retry when any message of the batch failed for a transient reason and is tried again)",
    ["consumer", "source", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
OUTBOX_BACKLOG = Gauge(
    "chibo_outbox_backlog", "Notifications recorded in a source's store that its relay has not passed yet", ["source"]
)
CONSUMER_LAG = Gauge(
    "chibo_consumer_lag_seconds",
    "Seconds between the source recording the event last applied and its application; 0 once caught up",
    ["consumer", "source"],
)
COMPLIANCE_RATE = Gauge(
    "chibo_compliance_rate", "Reporting's city-wide figures for the current year, as rates (0-1)", ["figure"]
)
COMPLIANCE_COUNT = Gauge(
    "chibo_compliance_count", "Reporting's city-wide figures for the current year, as counts", ["figure"]
)
ANSWER_CACHE = Counter(
    "chibo_answer_cache_total",
    "Roll-up answers served from memory (hit) or computed (computed); the rest of the requests waited for one"
    " computing the same answer", ["service", "outcome"],
)
REPLAY_POSITION = Gauge(
    "chibo_replay_position", "Source position a running replay (chibo replay) has reached", ["source"]
)
REPLAY_TARGET = Gauge(
    "chibo_replay_target_position", "Source position a running replay reads up to (the log's head when it began)",
    ["source"],
)
REPLAY_EVENTS = Counter(
    "chibo_replay_events_total", "Events a replay went through, by outcome (applied, skipped by --as-of/--known-at)",
    ["source", "outcome"],
)
REPLAY_RUNNING = Gauge("chibo_replay_running", "1 while a replay is rebuilding a store")
BUILD = Info("chibo_build", "The running code: chibo version, git commit (CHIBO_COMMIT or the checkout), Python")


def record_build_info() -> None:
    """Fill chibo_build_info once per process (called by every service and relay at start)."""
    import os
    import platform
    import subprocess
    from importlib import metadata
    from pathlib import Path

    try:
        version = metadata.version("chibo")
    except metadata.PackageNotFoundError:
        version = "unknown"
    commit = os.environ.get("CHIBO_COMMIT", "")
    if not commit:
        try:
            commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                                    timeout=5, cwd=Path(__file__).resolve().parent).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            commit = ""
    BUILD.info({"version": version, "commit": commit or "unknown", "python": platform.python_version()})
