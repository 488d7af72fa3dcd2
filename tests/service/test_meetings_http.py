"""The life of a meeting over HTTP on the embedded platform (all services in one process, SQLite)."""

from tests.meeting_scenario import meeting_life
from tests.service.test_embedded_platform import platform  # noqa: F401 - the fixture


def test_the_whole_life_of_a_meeting_over_http_embedded(platform):  # noqa: F811
    meeting_life(platform.client(), platform.sign_in)
