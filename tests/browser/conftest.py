"""Browser tests of the web app: headless Chromium (Debian's `chromium` + `chromedriver`) through Selenium, on
one embedded platform per module with a small ward (tests/meeting_scenario.py) and one account per role.

Selenium rather than Playwright: Playwright's sync API does not shut down under eventlet's monkey-patching
(which tests/conftest.py applies to the whole run); Selenium talks plain HTTP to chromedriver, which eventlet's
sockets serve like any other request."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--window-size=1280,900", "--lang=vi"]
ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
PASSWORD = "mat-khau-thu-nghiem"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The platform, two wards (the second with one cell of its own) and the accounts."""
    from services.runner import EmbeddedPlatform, embedded_config, free_port
    from shared.accounts import add_account
    from shared.auth import AuthStore, Role
    from shared.config import settings_from
    from tests.meeting_scenario import ward_with_cells

    platform = EmbeddedPlatform(embedded_config(tmp_path_factory.mktemp("web") / "var", port=free_port())).start()
    try:
        client = platform.client()
        w = ward_with_cells(client)
        ward = client.get("members", f"/units/{w['cell']}")["parent_id"]
        tag = uuid.uuid4().hex[:4]
        other_ward = client.post("members", "/units", {"kind": "ward", "name": "Phường Khác", "code": f"PK{tag}",
                                                       "effective_from": "2020-01-01"})["id"]
        other_cell = client.post("members", "/units", {"kind": "cell", "name": "Chi bộ phường khác",
                                                       "code": f"PK{tag}-1", "parent_id": other_ward,
                                                       "block": "residential", "effective_from": "2020-01-01"})["id"]
        client.wait_caught_up()
        store = AuthStore(settings_from(platform.config).store)
        try:
            accounts = {"secretary": (Role.CELL_SECRETARY, w["cell"]), "ward": (Role.WARD_STAFF, ward),
                        "other_ward": (Role.WARD_STAFF, other_ward), "auditor": (Role.AUDITOR, None)}
            for user, (role, unit) in accounts.items():
                add_account(store, user, PASSWORD, role, unit)
        finally:
            store.close()
        yield {"platform": platform, "base": platform.base_url, "ward": ward, "other_ward": other_ward,
               "client": client, **w, "foreign_cell": other_cell}
    finally:
        platform.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists() and not shutil.which(Path(path).name):
            pytest.fail(f"{path} is missing: `apt-get install -y chromium chromium-driver` "
                        "(deploy/ensure-infra.sh installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ARGS:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def yesterday_vn() -> dt.date:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=7)).date() - dt.timedelta(days=1)
