"""The life of a meeting over HTTP with every service as its own process on RabbitMQ and PostgreSQL."""

import pytest

from tests.meeting_scenario import meeting_life

pytestmark = pytest.mark.infra


def test_the_whole_life_of_a_meeting_over_http_distributed(new_cluster):
    cluster = new_cluster().start()
    meeting_life(cluster.client(), cluster.sign_in)
