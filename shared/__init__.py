"""Code every chibo service uses: event contracts, outbox relay, tracked consumer, config, metrics.

Nothing domain-specific lives here.
"""

import os

# psycopg 3 only detects gevent; under eventlet its default wait function blocks the hub and stalls every
# greenthread (design.md §6). The variable is read once, when psycopg is first imported, so set it here,
# before any chibo module can import psycopg.
os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_selector")
