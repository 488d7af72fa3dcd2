"""The slice end to end with every service and relay as its own process on RabbitMQ and PostgreSQL, and the
same scenario on the embedded default giving the same compliance table."""

import pytest

from services.demo import build_ward
from services.runner import EmbeddedPlatform, embedded_config
from tests.conftest import free_port

pytestmark = pytest.mark.infra
YEAR, SEED = 2025, 11


def table(client, ward_id):
    rows = client.cell_months(f"{YEAR}-01", f"{YEAR}-12", ward_id)
    keep = ("cell_code", "cell_name", "block", "month", "meetings", "regular_held", "present", "attendance_base",
            "attendance_rate")
    return sorted(tuple(r[k] for k in keep) for r in rows)


def test_distributed_run_matches_the_client_and_the_embedded_run(new_cluster, tmp_path, capsys):
    cluster = new_cluster().start()
    client = cluster.client()
    distributed = build_ward(client, YEAR, seed=SEED)
    distributed_table = table(client, distributed.ward_id)
    for code, _name, _block, month, meetings, held, present, base, _rate in distributed_table:
        assert (meetings, present, base) == distributed.expected[(code, month)]
        assert held == (meetings > 0)

    from tests.service.test_embedded_platform import reset_memory_broker

    reset_memory_broker()
    platform = EmbeddedPlatform(embedded_config(tmp_path / "embedded", port=free_port())).start()
    try:
        embedded_client = platform.client()
        embedded = build_ward(embedded_client, YEAR, seed=SEED)
        embedded_table = table(embedded_client, embedded.ward_id)
    finally:
        platform.stop()
        reset_memory_broker()

    assert embedded_table == distributed_table
    assert embedded.events == distributed.events
    outcome = ("held", "step_by_step", "closed", "passed", "rejected", "supervised")
    assert [getattr(embedded.story, k) for k in outcome] == [getattr(distributed.story, k) for k in outcome]
    with capsys.disabled():
        print(f"\n[slice] distributed: {distributed.events} events in {distributed.seconds:.2f}s "
              f"({distributed.events / distributed.seconds:.0f}/s end to end); embedded: "
              f"{embedded.events / embedded.seconds:.0f}/s")
