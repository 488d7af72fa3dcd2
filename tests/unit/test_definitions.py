"""The broker definitions (shared/definitions.py): RabbitMQ's password hashing, grants derived from the topology."""

import base64
import hashlib
import re

import pytest

from shared import definitions, topology

PASSWORDS = {"members": "m", "meetings": "e", "reporting": "r", "admin": "a"}


def test_the_password_hash_is_rabbitmqs_salted_sha256():
    salt = bytes.fromhex("908dc60a")  # RabbitMQ's documented example: password "test12"
    assert definitions.password_hash("test12", salt) == "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR"
    raw = base64.b64decode(definitions.password_hash("mật khẩu"))
    assert len(raw) == 36 and hashlib.sha256(raw[:4] + "mật khẩu".encode()).digest() == raw[4:]


def test_grants_follow_the_topology_and_nothing_more():
    def allows(pattern: str, name: str) -> bool:
        return re.fullmatch(pattern.strip("^$"), name) is not None if pattern != "^$" else False

    members = definitions.permissions("members")
    assert allows(members["write"], "members.events") and not allows(members["write"], "meetings.events")
    assert members["read"] == "^$"
    reporting = definitions.permissions("reporting")
    for queue in ("reporting.members", "reporting.meetings"):
        assert allows(reporting["read"], queue) and allows(reporting["configure"], queue)
    assert not allows(reporting["read"], "meetings.members")
    assert not allows(reporting["write"], "members.events") and not allows(reporting["write"], "meetings.events")
    assert not allows(reporting["configure"], "reporting.members.x")  # anchored: no prefix tricks


def test_the_document_declares_the_topology_with_the_consumers_arguments():
    doc = definitions.definitions("chibo", PASSWORDS)
    assert {u["name"] for u in doc["users"]} == {"chibo-members", "chibo-meetings", "chibo-reporting", "chibo-admin"}
    queues = {q["name"]: q["arguments"] for q in doc["queues"]}
    assert queues["reporting.meetings"] == topology.consumer_queue("reporting", "meetings").queue_arguments
    assert {(b["source"], b["destination"]) for b in doc["bindings"]} >= {("members.events", "meetings.members"),
                                                                         ("chibo.dlx", "reporting.members.dlq")}
    with pytest.raises(ValueError, match="reporting"):
        definitions.definitions("chibo", {**PASSWORDS, "reporting": ""})


def test_a_service_uri_keeps_host_port_and_vhost():
    uri = definitions.service_uri("pyamqp://guest:guest@127.0.0.1:5672/chibo-x", "chibo-members", "p@ss/word")
    assert uri == "pyamqp://chibo-members:p%40ss%2Fword@127.0.0.1:5672/chibo-x"
