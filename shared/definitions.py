"""RabbitMQ definitions: the broker topology (shared/topology.py) plus a user per service, each allowed exactly
what that service does on the broker, in the format `rabbitmqctl import_definitions` and RabbitMQ's
`load_definitions` read.

What each service does, hence its permissions (RabbitMQ checks configure for declaring, write for publishing
and for binding a queue, read for consuming and for binding from an exchange):

* a writer (members, meetings) and its relay declare and publish to `<source>.events`;
* a consumer (meetings of members, reporting of both) declares its queues `<consumer>.<source>` (and the source's
  exchange, which kombu declares with a bound queue), binds them, consumes them, declares its dead-letter queue
  `<consumer>.<source>.dlq` on `chibo.dlx` and publishes refused messages there.

Nothing else: members cannot publish as meetings, reporting cannot read the meetings service's roster queue, no
service can purge or delete another's queue. The operator account (`chibo declare`, `chibo deadletters`,
Prometheus' scrape of rabbitmq_prometheus, the management UI) is the administrator.

Passwords are never committed: `chibo declare --definitions FILE` hashes the ones in the environment
(CHIBO_AMQP_PASSWORD_<SERVICE>, CHIBO_AMQP_ADMIN_PASSWORD) with RabbitMQ's own salted SHA-256 scheme.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Mapping
from typing import Any

from shared import topology

SERVICES = ("members", "meetings", "reporting")
ADMIN = "admin"


def user_name(service: str, prefix: str = "chibo") -> str:
    """The broker user of a service (`chibo-members`), or of the operator (`chibo-admin`)."""
    return f"{prefix}-{service}"


def _alternatives(names: list[str]) -> str:
    """A RabbitMQ permission pattern matching exactly these names ('^$' when none)."""
    if not names:
        return "^$"
    return "^(" + "|".join(re.escape(n) for n in sorted(set(names))) + ")$"


def permissions(service: str) -> dict[str, str]:
    """{"configure", "write", "read"} patterns for `service`, from what it declares, publishes and consumes."""
    configure: list[str] = []
    write: list[str] = []
    read: list[str] = []
    if service in topology.SOURCES:  # the service (embedded relay) or its relay publishes its own events
        exchange = topology.events_exchange(service).name
        configure.append(exchange)
        write.append(exchange)
    for source in topology.SUBSCRIPTIONS.get(service, ()):
        queue = topology.queue_name(service, source)
        dlq = topology.dead_letter_queue(service, source).name
        source_exchange = topology.events_exchange(source).name
        configure += [queue, dlq, source_exchange, topology.DLX.name]
        write += [queue, dlq, topology.DLX.name]  # bind the queues; publish refused messages to the DLX
        read += [queue, source_exchange, topology.DLX.name]  # consume; bind from the two exchanges
    return {"configure": _alternatives(configure), "write": _alternatives(write), "read": _alternatives(read)}


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + utf-8 password)), 4-byte salt."""
    salt = os.urandom(4) if salt is None else salt
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode("utf-8")).digest()).decode("ascii")


def _arguments(queue: Any) -> dict[str, Any]:
    return dict(queue.queue_arguments or {})


def definitions(vhost: str, passwords: Mapping[str, str], prefix: str = "chibo",
                quorum: bool = True) -> dict[str, Any]:
    """The whole definitions document for `vhost`. `passwords` maps "members", "meetings", "reporting" and
    "admin" to passwords; a missing one is an error (a user nobody can log in as is a deployment bug)."""
    missing = [u for u in (*SERVICES, ADMIN) if not passwords.get(u)]
    if missing:
        raise ValueError("no broker password for " + ", ".join(missing))
    users = [{"name": user_name(s, prefix), "password_hash": password_hash(passwords[s]),
              "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []} for s in SERVICES]
    users.append({"name": user_name(ADMIN, prefix), "password_hash": password_hash(passwords[ADMIN]),
                  "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ["administrator"]})
    perms = [{"user": user_name(s, prefix), "vhost": vhost, **permissions(s)} for s in SERVICES]
    perms.append({"user": user_name(ADMIN, prefix), "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"})
    exchanges = [{"name": x.name, "vhost": vhost, "type": x.type, "durable": True, "auto_delete": False,
                  "internal": False, "arguments": {}}
                 for x in [*(topology.events_exchange(s) for s in topology.SOURCES), topology.DLX]]
    queues, bindings = [], []
    for consumer, sources in topology.SUBSCRIPTIONS.items():
        for source in sources:
            for queue in (topology.consumer_queue(consumer, source, quorum=quorum),
                          topology.dead_letter_queue(consumer, source)):
                queues.append({"name": queue.name, "vhost": vhost, "durable": True, "auto_delete": False,
                               "arguments": _arguments(queue)})
                bindings.append({"source": queue.exchange.name, "vhost": vhost, "destination": queue.name,
                                 "destination_type": "queue", "routing_key": queue.routing_key, "arguments": {}})
    return {"users": users, "vhosts": [{"name": vhost}], "permissions": perms, "exchanges": exchanges,
            "queues": queues, "bindings": bindings}


def passwords_from_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """CHIBO_AMQP_PASSWORD_MEMBERS / _MEETINGS / _REPORTING and CHIBO_AMQP_ADMIN_PASSWORD."""
    env = os.environ if env is None else env
    found = {s: env.get(f"CHIBO_AMQP_PASSWORD_{s.upper()}", "") for s in SERVICES}
    found[ADMIN] = env.get("CHIBO_AMQP_ADMIN_PASSWORD", "")
    return found


def service_uri(amqp_uri: str, user: str, password: str) -> str:
    """`amqp_uri` with its credentials replaced (host, port and vhost kept)."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(amqp_uri)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
