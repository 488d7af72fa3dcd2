"""A small HTTP client for the platform, used by the demo, `make cluster` and the tests."""

from __future__ import annotations

import time
from typing import Any

import requests


class ApiError(RuntimeError):
    def __init__(self, status: int, body: Any):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


SERVICES = ("members", "meetings", "reporting")


class ChiboClient:
    """Talks to each service at its base URL ({"members": "http://host:port", ...}) with `token` (a JWT or an API
    key: every event it records names that token's user), and to their operator ports (`ops_urls`: health and
    metrics) when given."""

    def __init__(self, urls: dict[str, str], token: str | None = None, ops_urls: dict[str, str] | None = None,
                 timeout: float = 30.0):
        self.urls = urls
        self.ops_urls = ops_urls or {}
        self.timeout = timeout
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def single(cls, base_url: str, ops_url: str | None = None, **kwargs: Any) -> ChiboClient:
        return cls({s: base_url for s in SERVICES}, ops_urls={s: ops_url for s in SERVICES} if ops_url else None,
                   **kwargs)

    def as_user(self, token: str) -> ChiboClient:
        """The same services, with another user's token."""
        return ChiboClient(self.urls, token=token, ops_urls=self.ops_urls, timeout=self.timeout)

    def post(self, service: str, path: str, body: dict[str, Any], key: str | None = None) -> Any:
        """POST a command; `key` is sent as its Idempotency-Key (a resubmitted form is recorded once)."""
        headers = {"Idempotency-Key": key} if key else None
        r = self.session.post(f"{self.urls[service]}/{service}{path}", json=body, headers=headers,
                              timeout=self.timeout)
        return self._answer(r)

    def import_register(self, data: bytes, *, ward: str, apply: bool = False, skip_invalid: bool = False,
                        filename: str = "", lang: str = "vi") -> Any:
        """POST a ward's register file to /members/imports: the report (ApiError with the refusal otherwise)."""
        xlsx = data.startswith(b"PK") or filename.lower().endswith(".xlsx")
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if xlsx else "text/csv"
        params = {"ward": ward, "dry_run": str(not apply).lower(), "skip_invalid": str(skip_invalid).lower(),
                  "lang": lang}
        r = self.session.post(f"{self.urls['members']}/members/imports", params=params, data=data,
                              headers={"Content-Type": content_type},
                              timeout=max(self.timeout, 600.0))  # one transaction per admitted row
        return self._answer(r)

    def _answer(self, r: requests.Response) -> Any:
        if r.status_code >= 300:
            raise ApiError(r.status_code, r.json() if r.headers.get("content-type", "").startswith(
                "application/json") else r.text)
        return r.json()

    def get(self, service: str, path: str, **params: Any) -> Any:
        r = self.session.get(f"{self.urls[service]}/{service}{path}", params=params, timeout=self.timeout)
        if r.status_code >= 300:
            raise ApiError(r.status_code, r.json())
        return r.json()

    def published(self, source: str) -> list[dict[str, Any]]:
        """Every event `source` has published, in order (paged from its notification API)."""
        items: list[dict[str, Any]] = []
        while True:
            after = items[-1]["position"] if items else 0
            page = self.get(source, "/notifications", after=after, limit=1000)["items"]
            if not page:
                return items
            items.extend(page)

    def cell_months(self, first: str, last: str, unit: str | None = None) -> list[dict[str, Any]]:
        """Reporting's per cell and month figures for months `first`..`last` (YYYY-MM), under `unit`."""
        params: dict[str, Any] = {"from": first, "to": last} | ({"unit": unit} if unit else {})
        rows: list[dict[str, Any]] = []
        while True:  # every page
            answer = self.get("reporting", "/compliance/cell-months", **params, page=len(rows) // 1000 + 1,
                              page_size=1000)
            rows.extend(answer["items"])
            if len(rows) >= answer["total"] or not answer["items"]:
                return rows

    def rollup(self, period: str, unit: str | None = None, **params: Any) -> dict[str, Any]:
        """Reporting's roll-up of `unit` (None: everything) for a month, quarter or year."""
        return self.get("reporting", "/compliance/rollup", period=period, **({"unit": unit} if unit else {}),
                        **params)

    def ops(self, service: str, path: str, timeout: float | None = None) -> requests.Response:
        """GET on the service's operator port (health, metrics)."""
        if service not in self.ops_urls:
            raise LookupError(f"no operator URL for {service} (ChiboClient(ops_urls=...))")
        return requests.get(f"{self.ops_urls[service]}/{service}{path}", timeout=timeout or self.timeout)

    def health(self, service: str) -> dict[str, Any]:
        r = self.ops(service, "/health")
        return self._answer(r)

    def positions(self, consumer: str) -> dict[str, int]:
        """The sources' positions `consumer` has applied (its health answer)."""
        return self.health(consumer)["positions"]

    def pending(self, consumer: str, sources: tuple[str, ...]) -> int:
        """How many published events `consumer` has not applied yet (0: caught up), summed over sources."""
        positions = self.positions(consumer)
        behind = 0
        for source in sources:
            items = self.get(source, "/notifications", after=positions.get(source, 0), limit=1000)["items"]
            behind += len(items)
        return behind

    def wait_caught_up(self, timeout: float = 60.0, interval: float = 0.05) -> float:
        """Wait until meetings and reporting have applied every published event; return seconds waited."""
        start = time.monotonic()
        while True:
            if self.pending("meetings", ("members",)) == 0 and self.pending("reporting", ("members", "meetings")) == 0:
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"consumers did not catch up within {timeout}s")
            time.sleep(interval)

    def wait_healthy(self, services: tuple[str, ...] = ("members", "meetings", "reporting"),
                     timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for service in services:
            wait_answering(f"{self.ops_urls[service]}/{service}/health", deadline, f"{service} is not healthy")


def wait_answering(url: str, deadline: float, what: str, interval: float = 0.1) -> None:
    """Poll `url` until it answers 2xx; TimeoutError(`what`) once `deadline` (time.monotonic()) has passed."""
    while True:
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} ({url})")
        time.sleep(interval)
