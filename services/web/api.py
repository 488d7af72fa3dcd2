"""The web app's calls to the services' public APIs, with the signed-in user's own token.

The pages never read a store: every figure, roster and meeting comes through the same routes, and the same
access control (401/403), as any other client's. A refusal comes back as `ApiError` with the API's fields
(in the user's language), which the pages show next to the form's inputs.
"""

from __future__ import annotations

from typing import Any

import requests

SERVICES = ("members", "meetings", "reporting")


class ApiError(Exception):
    def __init__(self, status: int, body: Any):
        self.status = status
        self.body = body if isinstance(body, dict) else {"message": str(body)}
        super().__init__(f"HTTP {status}: {self.message}")

    @property
    def message(self) -> str:
        return str(self.body.get("message") or self.body.get("error") or self.status)

    @property
    def fields(self) -> list[dict[str, Any]]:
        return list(self.body.get("fields") or [])


def api_urls(config: dict[str, Any]) -> dict[str, str]:
    """Each service's base URL, ending with its name (`http://host:8001/members`): CHIBO.apis in the distributed
    run; in the embedded run the process's own port serves all three."""
    chibo = config.get("CHIBO") or {}
    apis = chibo.get("apis") or {}
    own = f"http://{config.get('WEB_SERVER_ADDRESS', '127.0.0.1:8000')}"
    return {name: str(apis.get(name) or f"{own}/{name}").rstrip("/") for name in SERVICES}


class Api:
    """One signed-in user's view of the platform, for one page."""

    def __init__(self, urls: dict[str, str], token: str, lang: str, session: requests.Session,
                 timeout: float = 30.0):
        self.urls, self.lang, self.session, self.timeout = urls, lang, session, timeout
        self.headers = {"Authorization": f"Bearer {token}", "Accept-Language": lang}

    def _url(self, service: str, path: str) -> str:
        return f"{self.urls[service]}{path}"

    def raw(self, service: str, path: str, **params: Any) -> requests.Response:
        return self.session.get(self._url(service, path), params=_clean(params), headers=self.headers,
                                timeout=self.timeout)

    def download(self, service: str, path: str, **params: Any) -> requests.Response:
        """A document (an export, the minutes) as the API sent it; ApiError when it refused."""
        r = self.raw(service, path, **params)
        if r.status_code >= 400:
            _answer(r)  # raises with the API's body
        return r

    def get(self, service: str, path: str, **params: Any) -> Any:
        return _answer(self.raw(service, path, **params))

    def post(self, service: str, path: str, body: Any = None, *, data: bytes | None = None,
             key: str | None = None, **params: Any) -> Any:
        headers = dict(self.headers)
        if key:
            headers["Idempotency-Key"] = key
        if data is not None:
            headers["Content-Type"] = "application/octet-stream"
            r = self.session.post(self._url(service, path), data=data, params=_clean(params), headers=headers,
                                  timeout=self.timeout)
        else:
            r = self.session.post(self._url(service, path), json=body if body is not None else {},
                                  params=_clean(params), headers=headers, timeout=self.timeout)
        return _answer(r)


    def upload(self, service: str, path: str, filename: str, data: bytes, mimetype: str, **params: Any) -> Any:
        """A file as the multipart field `file` (the register import)."""
        r = self.session.post(self._url(service, path), files={"file": (filename, data, mimetype)},
                              params=_clean(params), headers=self.headers, timeout=self.timeout)
        return _answer(r)


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v not in (None, "")}


def _answer(r: requests.Response) -> Any:
    try:
        body = r.json()
    except ValueError:
        body = {"message": r.text[:500]}
    if r.status_code >= 400:
        raise ApiError(r.status_code, body)
    return body
