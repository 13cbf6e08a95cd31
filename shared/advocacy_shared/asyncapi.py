"""The AsyncAPI 3.0 document of every event and request, generated from the contracts.

What a communications platform (or any other subscriber) needs to consume the platform's events
and call its requests over NATS: each event's subject, its CloudEvents envelope and data schema;
each request's subject, queue group, request and reply schemas and error envelope. Generated
from `advocacy_shared.contracts` (events from `EVENT_TYPES`, requests from the `Operation`s the
contract modules declare), never written by hand: `python -m advocacy_shared.asyncapi` prints it,
docs/asyncapi.json is the committed copy (a test fails when it is stale) and the gateway serves
it at `/asyncapi.json`.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from advocacy_shared import contracts
from advocacy_shared.contracts import EVENT_TYPES
from advocacy_shared.contracts.base import EventData, Operation
from advocacy_shared.contracts.errors import RpcErrorBody
from advocacy_shared.contracts.system import PROCESSES, ping, status
from advocacy_shared.envelope import CloudEvent
from advocacy_shared.topology import FEED_DOMAINS, Topology

NAMESPACE = "advocacy"
"""Subjects are shown in the default namespace; `ADVOCACY_NAMESPACE` replaces their first part."""
SCHEMAS = "#/components/schemas/{model}"


def operations() -> list[Operation[Any, Any]]:
    """Every request operation the contracts declare, and every process's system requests."""
    found: dict[str, Operation[Any, Any]] = {}
    for module in _contract_modules():
        for value in vars(module).values():
            if isinstance(value, Operation):
                found[f"{value.service}.{value.name}"] = value
    for process in PROCESSES:
        for operation in (ping(process), status(process)):
            found[f"{operation.service}.{operation.name}"] = operation
    return [found[key] for key in sorted(found)]


def _contract_modules() -> list[ModuleType]:
    return [
        module
        for name in contracts.__all__
        if isinstance(module := getattr(contracts, name), ModuleType)
    ]


def document() -> dict[str, Any]:
    topology = Topology(NAMESPACE)
    events = [EVENT_TYPES[name] for name in sorted(EVENT_TYPES)]
    requests = operations()
    schemas = _schemas(events, requests)
    channels: dict[str, Any] = {}
    operations_: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event in events:
        _add_event(event, topology, channels, operations_, messages)
    for operation in requests:
        _add_request(operation, topology, channels, operations_, messages)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Advocacy platform: events and requests",
            "version": _version(),
            "description": (
                "Every event the platform publishes on JetStream and every request its services "
                "answer over NATS request-reply, generated from the contracts "
                "(advocacy_shared.contracts). Events are CloudEvents 1.0 in structured JSON, "
                "published with `Nats-Msg-Id` = the event id; consume them with a durable pull "
                "consumer and deduplicate on the id. Subjects start with the platform's namespace "
                f"(`{NAMESPACE}` by default, `ADVOCACY_NAMESPACE`). A request's reply is "
                '`{"ok": true, "reply": ...}` or `{"ok": false, "error": {...}}`.'
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "nats": {
                "host": "nats:4222",
                "protocol": "nats",
                "description": "The platform's NATS cluster (JetStream for events).",
            }
        },
        "channels": channels,
        "operations": operations_,
        "components": {"messages": messages, "schemas": schemas},
    }


def _schemas(events: list[type[EventData]], requests: list[Operation[Any, Any]]) -> dict[str, Any]:
    models: list[type[BaseModel]] = [CloudEvent, RpcErrorBody, *events]
    for operation in requests:
        models += [operation.request, operation.reply]
    unique = list(dict.fromkeys(models))
    _, top = models_json_schema([(model, "validation") for model in unique], ref_template=SCHEMAS)
    definitions: dict[str, Any] = top.get("$defs", {})
    return {name: _asyncapi_schema(definitions[name]) for name in sorted(definitions)}


def _asyncapi_schema(schema: Any) -> Any:
    """JSON Schema as pydantic writes it, in AsyncAPI's dialect: a `discriminator` is the name of
    the property (OpenAPI's object form, with its mapping, is not allowed)."""
    if isinstance(schema, list):
        return [_asyncapi_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: _asyncapi_schema(value) for key, value in schema.items()}
    discriminator = schema.get("discriminator")
    if isinstance(discriminator, dict):
        converted["discriminator"] = discriminator["propertyName"]
    return converted


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": SCHEMAS.format(model=model.__name__)}


def _add_event(
    event: type[EventData],
    topology: Topology,
    channels: dict[str, Any],
    operations_: dict[str, Any],
    messages: dict[str, Any],
) -> None:
    spec = event.spec
    key = f"{spec.domain}.{spec.name}"
    name = event.__name__
    webhooks = "" if spec.domain in FEED_DOMAINS else " Also delivered to webhook subscribers."
    messages[name] = {
        "name": name,
        "title": name,
        "summary": (event.__doc__ or name).strip().splitlines()[0],
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "properties": {
                "Nats-Msg-Id": {"type": "string", "description": "The event id (JetStream dedup)."}
            },
        },
        "payload": {
            "allOf": [
                _ref(CloudEvent),
                {
                    "type": "object",
                    "properties": {"type": {"const": spec.type}, "data": _ref(event)},
                },
            ]
        },
    }
    channels[key] = {
        "address": spec.subject(topology),
        "title": name,
        "description": (
            f"`{spec.type}` on the stream `{topology.stream_name(spec.domain)}`.{webhooks}"
        ),
        "messages": {name: {"$ref": f"#/components/messages/{name}"}},
    }
    operations_[f"publish{name}"] = {
        "action": "send",
        "title": f"The {spec.domain} domain publishes {name}",
        "channel": {"$ref": f"#/channels/{_escape(key)}"},
        "messages": [{"$ref": f"#/channels/{_escape(key)}/messages/{name}"}],
    }


def _add_request(
    operation: Operation[Any, Any],
    topology: Topology,
    channels: dict[str, Any],
    operations_: dict[str, Any],
    messages: dict[str, Any],
) -> None:
    key = f"rpc.{operation.service}.{operation.name}"
    request, reply = f"{key}.request", f"{key}.reply"
    messages[request] = {
        "name": request,
        "title": operation.request.__name__,
        "contentType": "application/json",
        "payload": _ref(operation.request),
    }
    messages[reply] = {
        "name": reply,
        "title": operation.reply.__name__,
        "contentType": "application/json",
        "payload": {
            "oneOf": [
                {
                    "type": "object",
                    "required": ["ok", "reply"],
                    "properties": {"ok": {"const": True}, "reply": _ref(operation.reply)},
                },
                {
                    "type": "object",
                    "required": ["ok", "error"],
                    "properties": {"ok": {"const": False}, "error": _ref(RpcErrorBody)},
                },
            ]
        },
    }
    channels[key] = {
        "address": operation.subject(topology),
        "title": f"{operation.service}: {operation.name}",
        "description": f"Queue group `{topology.rpc_queue(operation.service)}`.",
        "messages": {"request": {"$ref": f"#/components/messages/{_escape(request)}"}},
    }
    channels[f"{key}.reply"] = {
        "address": None,
        "description": "The requester's reply subject (NATS inbox).",
        "messages": {"reply": {"$ref": f"#/components/messages/{_escape(reply)}"}},
    }
    operations_[key] = {
        "action": "receive",
        "title": f"The {operation.service} process answers {operation.name}",
        "channel": {"$ref": f"#/channels/{_escape(key)}"},
        "messages": [{"$ref": f"#/channels/{_escape(key)}/messages/request"}],
        "reply": {
            "channel": {"$ref": f"#/channels/{_escape(key + '.reply')}"},
            "messages": [{"$ref": f"#/channels/{_escape(key + '.reply')}/messages/reply"}],
        },
    }


def _escape(key: str) -> str:
    """A JSON pointer token: `~` and `/` escaped (the keys hold neither; kept for safety)."""
    return key.replace("~", "~0").replace("/", "~1")


def _version() -> str:
    try:
        return version("advocacy-shared")
    except PackageNotFoundError:
        return "0.0.0"


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
