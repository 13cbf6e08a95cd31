"""The AsyncAPI 3.0 document (docs/asyncapi.json): current with the contracts, valid against the
AsyncAPI 3.0.0 schema (vendored), every reference resolving, every event and request in it, and
served by the gateway at /asyncapi.json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema

from advocacy_shared.asyncapi import document, operations, render
from advocacy_shared.contracts import EVENT_TYPES
from tests.conftest import Gateway

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "asyncapi.json"
SCHEMA = Path(__file__).parent / "schemas" / "asyncapi-3.0.0.json"


def test_the_committed_document_is_current() -> None:
    assert COMMITTED.read_text() == render(), (
        "docs/asyncapi.json is stale: python -m advocacy_shared.asyncapi > docs/asyncapi.json"
    )


def test_the_document_is_valid_asyncapi_3() -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{list(e.path)}: {e.message[:200]}" for e in validator.iter_errors(document())]
    assert not errors, errors[:5]


def test_a_broken_document_is_refused() -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = document()
    broken["operations"]["publishOrganisationCreated"]["action"] = "publish"  # AsyncAPI 2 wording
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def resolve(root: dict[str, Any], pointer: str) -> Any:
    node: Any = root
    for token in pointer.removeprefix("#/").split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_reference_resolves_and_every_contract_is_in_it() -> None:
    doc = document()
    for ref in set(references(doc)):
        assert ref.startswith("#/"), ref
        resolve(doc, ref)
    addresses = {channel["address"] for channel in doc["channels"].values()}
    for model in EVENT_TYPES.values():
        assert f"advocacy.{model.spec.domain}.{model.spec.name}" in addresses
    for operation in operations():
        assert f"advocacy.rpc.{operation.service}.{operation.name}" in addresses
    assert len(operations()) > 50


async def test_the_gateway_serves_it(gateway: Gateway) -> None:
    response = await gateway.http.get("/asyncapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == json.loads(COMMITTED.read_text())
