"""How long the web app takes to render a district's dashboard on the embedded demo data (issue 9: under 1 s).

    .venv/bin/python -m tests.bench.web_dashboard [--year 2025] [--runs 10]

Builds the demo district (services/demo.py build_district) on an embedded platform, signs in as the district
staff account through the sign-in form, then times GET /web/dashboard?period=YEAR (the whole page: three API
calls with the user's token, the chart and the tables) and, in the same run, the roll-up API call alone.
"""

from __future__ import annotations

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import os  # noqa: E402
import platform as host  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import requests  # noqa: E402

import shared  # noqa: E402, F401


def main() -> None:
    from services.demo import build_district
    from services.runner import EmbeddedPlatform, embedded_config, free_port
    from shared.accounts import add_account
    from shared.auth import AuthStore, Role
    from shared.config import settings_from

    parser = argparse.ArgumentParser()
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        platform = EmbeddedPlatform(embedded_config(tmp, port=free_port())).start()
        try:
            started = time.monotonic()
            district = build_district(platform.client(platform.api_key("bench")), args.year)
            print(f"district built in {time.monotonic() - started:.1f}s", flush=True)
            store = AuthStore(settings_from(platform.config).store)
            add_account(store, "huyen", "mat-khau-bench", Role.DISTRICT_STAFF, district.district_id)
            store.close()
            base = platform.base_url
            web = requests.Session()
            csrf = re.search(r'name="csrf" value="([^"]+)"', web.get(f"{base}/web/sign-in").text).group(1)
            web.post(f"{base}/web/sign-in", data={"csrf": csrf, "username": "huyen", "password": "mat-khau-bench"})
            token = next(c.value for c in web.cookies if c.name == "chibo_session")
            api = requests.Session()
            api.headers["Authorization"] = f"Bearer {token}"
            page_times, api_times = [], []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                r = web.get(f"{base}/web/dashboard", params={"period": str(args.year)})
                page_times.append(time.perf_counter() - t0)
                assert r.status_code == 200 and "tile-value" in r.text, r.status_code
                t0 = time.perf_counter()
                a = api.get(f"{base}/reporting/compliance/rollup", params={
                    "unit": district.district_id, "period": str(args.year), "by": "children"})
                api_times.append(time.perf_counter() - t0)
                assert a.status_code == 200
            cells = a.json()["figures"]["cells"]
            print(f"machine: {host.machine()} {os.cpu_count()} cores, Python {host.python_version()}, "
                  "embedded (SQLite)")
            print(f"district: {cells} cells, a year of meetings; {args.runs} runs each")
            print(f"GET /web/dashboard (whole page): median {statistics.median(page_times) * 1000:.0f} ms, "
                  f"max {max(page_times) * 1000:.0f} ms")
            print(f"GET /reporting/compliance/rollup alone: median {statistics.median(api_times) * 1000:.0f} ms, "
                  f"max {max(api_times) * 1000:.0f} ms")
        finally:
            platform.stop()


if __name__ == "__main__":
    main()
