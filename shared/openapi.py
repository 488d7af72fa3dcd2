"""An OpenAPI 3.1 document for a nameko service, built from its HTTP entrypoints and their pydantic models.

Each route declared with `@http(method, url, body=Model)` gets its request body's JSON Schema from the model
(pydantic's own `model_json_schema`, so the document cannot drift from what the service validates); every
route gets the common error body. Served by each service at `/<service>/openapi.json`.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
ERROR = {
    "type": "object",
    "required": ["error", "message", "fields"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "fields": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}, "rule": {"type": "string"}}}},
    },
}


def routes(service_cls: type) -> list[tuple[Any, Any]]:
    """The service's HTTP entrypoints with their methods (nameko keeps them on each decorated method)."""
    found = []
    for name in dir(service_cls):
        fn = getattr(service_cls, name)
        for entrypoint in getattr(fn, "nameko_entrypoints", ()):
            if hasattr(entrypoint, "url") and hasattr(entrypoint, "method"):
                found.append((entrypoint, fn))
    return sorted(found, key=lambda pair: (pair[0].url, pair[0].method))


def _path(url: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for converter, name in _PARAM.findall(url):
        schema: dict[str, Any] = {"type": "string"}
        if converter == "uuid":
            schema["format"] = "uuid"
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _PARAM.sub(r"{\2}", url), params


def document(service_cls: type, title: str, version: str = "1", ops: bool = False) -> dict[str, Any]:
    """The public port's routes (each needing a bearer token and naming its action), or with `ops` the
    operator port's (health, live, ready, metrics: no authentication)."""
    components: dict[str, Any] = {"Error": ERROR}
    paths: dict[str, Any] = {}
    for entrypoint, fn in routes(service_cls):
        action = getattr(entrypoint, "action", None)
        if (action is None) != ops:
            continue
        path, params = _path(entrypoint.url)
        operation: dict[str, Any] = {
            "operationId": f"{entrypoint.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
            "responses": {
                "200": {"description": "OK"},
                "4XX": {"description": "refused: the body names each field at fault and the rule",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        }
        if action is not None:
            operation["security"] = [{"bearer": []}]
            operation["x-chibo-action"] = action
            operation["responses"]["401"] = {"description": "no valid token or API key"}
            operation["responses"]["403"] = {"description": "the role, the key's scopes or the unit forbid it"}
            operation["responses"]["429"] = {"description": "the credential's rate limit is spent (Retry-After)"}
        if params:
            operation["parameters"] = params
        model: type[BaseModel] | None = getattr(entrypoint, "body", None)
        if model is not None:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(schema.pop("$defs", {}))
            components[model.__name__] = schema
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}
            operation["responses"]["201"] = {"description": "recorded"}
        if fn.__doc__:
            operation["summary"] = fn.__doc__.strip().splitlines()[0]
        paths.setdefault(path, {})[entrypoint.method.lower()] = operation
    return {"openapi": "3.1.0", "info": {"title": title, "version": version}, "paths": paths,
            "components": {"schemas": components, "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "a user's JWT (chibo token issue) or a machine client's API key "
                               "(chibo apikey create)"}}}}
