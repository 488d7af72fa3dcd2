import uuid
from pathlib import Path

import pytest

from services.cluster import Cluster
from tests.conftest import free_port


def make_cluster(amqp_uri: str, pg_prefix: str, log_dir: Path, catch_up_interval: float) -> Cluster:
    return Cluster(
        amqp_uri=amqp_uri,
        db_prefix=f"{pg_prefix}_{uuid.uuid4().hex[:6]}",
        ports={s: free_port() for s in ("members", "meetings", "reporting")},
        ops_ports={s: free_port() for s in ("members", "meetings", "reporting", "relay-members", "relay-meetings")},
        log_dir=log_dir,
        extra_env={"CHIBO_CATCH_UP_INTERVAL": str(catch_up_interval)},
        broker_users=True,  # each process logs in to RabbitMQ as its service's own user (shared/definitions.py)
    )


@pytest.fixture
def new_cluster(fresh_vhost, pg_prefix, tmp_path):
    """A factory of clusters on a private vhost and private databases; stopped at the end."""
    made: list[Cluster] = []

    def factory(catch_up_interval: float = 5.0) -> Cluster:
        cluster = make_cluster(fresh_vhost, pg_prefix, tmp_path / f"logs{len(made)}", catch_up_interval)
        made.append(cluster)
        return cluster

    yield factory
    for cluster in made:
        cluster.stop()
