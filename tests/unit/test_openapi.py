"""Each service's OpenAPI document covers every route, and every command's body schema is the model's own."""

import json

import pytest

from services.meetings.service import MeetingsService
from services.members.service import MembersService
from services.reporting.service import ReportingService
from shared import openapi


def refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


@pytest.mark.parametrize("service", [MembersService, MeetingsService, ReportingService])
def test_every_route_is_documented_and_every_reference_resolves(service):
    doc = openapi.document(service, title=service.name)
    json.dumps(doc)  # plain JSON
    assert doc["openapi"] == "3.1.0"
    ops_doc = openapi.document(service, title=service.name, ops=True)
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    on_ops_port = {(method.upper(), path) for path, ops in ops_doc["paths"].items() for method in ops}
    declared = {(e.method, openapi._path(e.url)[0]) for e, _ in openapi.routes(service)}
    assert documented | on_ops_port == declared and len(declared) > 5 and not documented & on_ops_port
    assert {path.rsplit("/", 1)[1] for _, path in on_ops_port} == {"health", "live", "ready", "metrics"}
    schemas = doc["components"]["schemas"]
    for ref in refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    for entrypoint, _ in openapi.routes(service):
        if entrypoint.action is None:
            continue
        # every public route requires a bearer credential and names the action it is checked against
        assert doc["paths"][openapi._path(entrypoint.url)[0]][entrypoint.method.lower()]["security"] == [
            {"bearer": []}]
        op = doc["paths"][openapi._path(entrypoint.url)[0]][entrypoint.method.lower()]
        if entrypoint.body is not None:
            name = entrypoint.body.__name__
            assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(f"/{name}")
            assert set(schemas[name]["properties"]) == set(entrypoint.body.model_fields), name
        for param in op.get("parameters", []):
            assert "{" + param["name"] + "}" in openapi._path(entrypoint.url)[0]


def test_the_commands_declare_their_models():
    posts = [e for e, _ in openapi.routes(MembersService) + openapi.routes(MeetingsService) if e.method == "POST"]
    without = sorted(e.url for e in posts if e.body is None)
    assert without == ["/members/imports"]  # a spreadsheet, not JSON
    assert len(posts) == 28
