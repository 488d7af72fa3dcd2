"""`chibo generate` (issue 10): the generator's own expected figures equal reporting's roll-up, exactly.

A small year (two districts of a few cells, so the by-district groups are two) is generated through the
application layer into SQLite stores, reporting is rebuilt from them as `chibo replay` does, and every
figure is compared for the city, each block and each district. Then a figure is nudged to show that the
comparison does fail on a difference, and a second generation with the same seed gives the same figures.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest

from services.synthetic.check import differences, rebuild, reporting_figures
from services.synthetic.generator import CityYear
from services.synthetic.scales import Scale
from shared.config import StoreSettings

SMALL = Scale("test", districts=2, base_orgs=4, cells=8, members=150, merges=1)


def _generate(tmp: Path, seed: int) -> tuple[StoreSettings, dict]:
    settings = StoreSettings(kind="sqlite", data_dir=str(tmp))
    build = CityYear(settings, SMALL, 2025, seed)
    try:
        build.run()
    finally:
        build.close()
    return settings, build.expected_json()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    settings, expected = _generate(tmp_path_factory.mktemp("gen"), seed=7)
    rebuild(settings, "generated_check")
    actual = reporting_figures(settings, "generated_check", 2025, dt.date.fromisoformat(expected["report_date"]))
    return expected, actual


def test_every_batch_size_gives_the_tables_of_one_event_per_transaction(tmp_path: Path) -> None:
    """project_many (queued writes grouped per statement, set-wise recounts) on a whole year of every kind of
    event (a smaller one than above, for time): each of the 15 tables' digests equals the
    one-event-per-transaction rebuild's, with batches that end mid-meeting (7) and that hold many (500)."""
    settings = StoreSettings(kind="sqlite", data_dir=str(tmp_path))
    build = CityYear(settings, Scale("batches", districts=1, base_orgs=4, cells=6, members=90, merges=1), 2025, 3)
    try:
        build.run()
    finally:
        build.close()
    one = rebuild(settings, "batch_1", batch=1)
    rows = one.snapshot.rows
    assert rows["meeting_roster"] > 300 and rows["member_years"] > 30 and rows["resolutions"] > 10
    assert rows["meeting_guests"] > 0 and rows["dues"] > 100 and rows["supervisions"] > 0
    for batch in (7, 500):
        many = rebuild(settings, f"batch_{batch}", batch=batch)
        assert many.snapshot == one.snapshot, batch


def test_reporting_equals_the_generators_figures(generated: tuple[dict, dict]) -> None:
    expected, actual = generated
    assert list(differences(expected, actual)) == []
    city = expected["city"]
    assert city["cells"] == 16 and set(expected["by_district"]) == {"Q001", "Q002"}
    # the year is not trivial: meetings, absences, reviews both in time and overdue, supervisors, a merger
    assert city["meetings"] > 150 and city["attendance"]["present"] < city["attendance"]["base"]
    assert 0 < city["resolutions_reviewed_in_time"]["count"] < city["resolutions_reviewed_in_time"]["of"]
    assert 0 < city["supervisor_coverage"]["count"] < city["supervisor_coverage"]["of"]
    assert city["cells_below_minimum"]["of"] == 14  # one cell merged in each district


def test_a_difference_is_reported(generated: tuple[dict, dict]) -> None:
    expected, actual = generated
    nudged = copy.deepcopy(expected)
    nudged["by_district"]["Q002"]["attendance"]["present"] += 1
    assert list(differences(nudged, actual)) == [
        f"by_district Q002 attendance: expected {nudged['by_district']['Q002']['attendance']}, "
        f"reporting {actual['by_district']['Q002']['attendance']}"]
    missing = copy.deepcopy(actual)
    del missing["by_block"]["residential"]
    assert any(line.startswith("by_block residential ") for line in differences(expected, missing))


def test_same_seed_same_figures(generated: tuple[dict, dict], tmp_path: Path) -> None:
    _, again = _generate(tmp_path, seed=7)
    assert again == generated[0]
    _, other = _generate(tmp_path / "other", seed=8)
    assert other != generated[0]


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from services.cli import main

    assert main(["generate", "--scale", "ward", "--year", "2999", "--store", "sqlite",
                 "--data-dir", str(tmp_path)]) == 2
    assert "--year" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["generate", "--scale", "galaxy"])
