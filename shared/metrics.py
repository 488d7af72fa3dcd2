"""Prometheus metrics shared by every service and relay (prefix `chibo_`, base units, no id labels)."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter(
    "chibo_events_published_total", "Integration events confirmed by the broker", ["source", "type"]
)
RELAY_POSITION = Gauge("chibo_relay_position", "Last notification position the relay recorded", ["source"])
CONSUMER_EVENTS = Counter(
    "chibo_consumer_events_total",
    "Events handled by a tracked consumer, by outcome (applied, duplicate, dead_lettered, gap_filled, redriven)",
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
