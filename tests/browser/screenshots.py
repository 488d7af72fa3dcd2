"""The README's screenshots of the web app on the demo district (not a test: run it by hand).

    .venv/bin/python -m tests.browser.screenshots [--out docs/screenshots]

Builds the demo district on an embedded platform (as `make demo` does), signs in through the form as the
district staff and as a cell secretary, and saves the district dashboard (desktop) and a meeting's
recording page (a phone's screen)."""

from __future__ import annotations

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import shared  # noqa: E402, F401


def main() -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    from services.demo import build_district
    from services.runner import EmbeddedPlatform, embedded_config, free_port
    from shared.accounts import add_account
    from shared.auth import AuthStore, Role
    from shared.config import settings_from
    from tests.browser.conftest import ARGS, CHROMEDRIVER, CHROMIUM

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--year", type=int, default=2025)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        platform = EmbeddedPlatform(embedded_config(tmp, port=free_port())).start()
        try:
            district = build_district(platform.client(platform.api_key("screenshots")), args.year)
            cell = next(iter(district.ward.cell_ids.values()))
            store = AuthStore(settings_from(platform.config).store)
            add_account(store, "canbo.huyen", "mat-khau-anh", Role.DISTRICT_STAFF, district.district_id)
            add_account(store, "bithu", "mat-khau-anh", Role.CELL_SECRETARY, cell)
            store.close()
            options = webdriver.ChromeOptions()
            options.binary_location = CHROMIUM
            for arg in ARGS:
                options.add_argument(arg)
            driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
            base = platform.base_url

            def sign_in(user: str) -> None:
                driver.delete_all_cookies()
                driver.get(base + "/web/sign-in")
                driver.find_element(By.ID, "username").send_keys(user)
                driver.find_element(By.ID, "password").send_keys("mat-khau-anh")
                driver.find_element(By.CSS_SELECTOR, "form[action='/web/sign-in'] button").click()

            def full_page(name: str, width: int, most: int = 4000) -> None:
                height = driver.execute_script("return document.documentElement.scrollHeight")
                driver.set_window_size(width, min(int(height) + 120, most))
                driver.save_screenshot(str(out / name))

            try:
                sign_in("canbo.huyen")
                driver.set_window_size(1280, 900)
                driver.get(f"{base}/web/dashboard?period={args.year}")
                full_page("dashboard-district.png", 1280)
                sign_in("bithu")
                driver.set_window_size(400, 860)
                driver.get(f"{base}/web/cells/{cell}")
                # a meeting still open (held, not closed): its forms are what a secretary fills in on a phone
                first = re.search(r'/web/meetings/([0-9a-f-]{36})">[^<]*</a> <span class="status status-held"',
                                  driver.page_source) or re.search(r"/web/meetings/([0-9a-f-]{36})", driver.page_source)
                assert first is not None
                driver.get(f"{base}/web/meetings/{first.group(1)}")
                full_page("meeting-phone.png", 400, most=1500)  # the top: attendance, agenda, speakers
            finally:
                driver.quit()
        finally:
            platform.stop()
    print(f"saved in {out}")


if __name__ == "__main__":
    main()
