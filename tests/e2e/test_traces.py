"""One trace across the processes of `advocacy run`: the gateway's HTTP request, its
request-reply to the planner, the planner's transaction and outbox, the relay's publish, the
metrics service's consumer of the event, and the webhook delivery process's intake and attempt,
each span exported over OTLP/HTTP by its own process to a receiver in the test, and linked to its
parent; the webhook's receiver gets the trace in its `traceparent` header."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import httpx
import pytest

from advocacy_shared.contracts.planner import ProgramCreated
from tests.actors import PROGRAM
from tests.e2e.conftest import SharedPlatform
from tests.otlp_receiver import ReceivedSpan
from tests.shared.helpers import polls

CREATED = ProgramCreated.spec.type

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),  # five processes to start: minutes on a loaded machine
    pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc"),
]


def test_a_program_created_over_http_is_one_trace_through_gateway_planner_and_consumer(
    shared_platform: SharedPlatform,
) -> None:
    running, receiver = shared_platform.running, shared_platform.spans
    auth = {"Authorization": f"Bearer {running.admin_key()}"}
    with httpx.Client(base_url=running.base_url, headers=auth, timeout=10) as http:
        org = http.post("/api/v1/orgs", json={"name": "Traced"}).json()["id"]
        for _ in polls(60):
            if http.get(f"/api/v1/orgs/{org}/playbook").status_code == 200:
                break
            time.sleep(0.05)
        hook = http.post(
            f"/api/v1/orgs/{org}/webhooks",
            json={"url": f"{receiver.endpoint}/hook", "event_types": [CREATED]},
        )
        assert hook.status_code == 201, hook.text
        trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
        created = http.post(
            f"/api/v1/orgs/{org}/programs",
            json=PROGRAM,
            headers={"traceparent": f"00-{trace_id}-{caller_span}-01"},
        )
        assert created.status_code == 201, created.text

    consumed, delivered = "process metrics_program_created", f"webhook {CREATED}"
    # Each process exports its spans on its own schedule: wait until both chains are whole, not
    # only until their last spans came (a parent may come later on a loaded machine).
    for _ in polls(60):
        spans = receiver.of_trace(trace_id)
        whole = all(_whole(spans, leaf, caller_span) for leaf in (consumed, delivered))
        if whole and receiver.hooks:
            break
        time.sleep(0.1)
    spans = receiver.of_trace(trace_id)

    chain = _chain_to_caller(spans, consumed, caller_span)
    # FastAPI adds internal spans of its own (`fastapi.endpoint`) under its HTTP server span.
    assert [(span.service, span.kind) for span in chain if span.kind != "internal"] == [
        ("advocacy-metrics", "consumer"),  # the event, consumed by a third process
        ("advocacy-planner", "producer"),  # the relay's publish, from the outbox row's context
        ("advocacy-planner", "server"),  # the request, answered in a transaction
        ("advocacy-gateway", "client"),  # request-reply over NATS
        ("advocacy-gateway", "server"),  # the HTTP request, continuing the caller's trace
    ], [(span.service, span.name) for span in chain]
    assert chain[-1].name == "POST /api/v1/orgs/{org_id}/programs"
    assert org not in " ".join(span.name for span in spans)
    webhook = _chain_to_caller(spans, delivered, caller_span)
    assert [(span.service, span.kind) for span in webhook[:3]] == [
        ("advocacy-webhooks", "client"),  # the attempt, continuing the delivery row's context
        ("advocacy-webhooks", "consumer"),  # the intake that queued the delivery
        ("advocacy-planner", "producer"),
    ], [(span.service, span.name) for span in webhook]
    (received,) = receiver.hooks
    assert received["traceparent"].split("-")[1] == trace_id
    assert received["traceparent"].split("-")[2] == webhook[0].span_id


def _whole(spans: list[ReceivedSpan], leaf_name: str, caller_span: str) -> bool:
    """Whether the chain from `leaf_name` up to the caller's span has come in whole."""
    try:
        _chain_to_caller(spans, leaf_name, caller_span)
    except AssertionError:
        return False
    return True


def _chain_to_caller(
    spans: list[ReceivedSpan], leaf_name: str, caller_span: str
) -> list[ReceivedSpan]:
    """From the span named `leaf_name` up its parents to the one whose parent is the caller's."""
    by_id = {span.span_id: span for span in spans}
    leaves = [span for span in spans if span.name == leaf_name]
    assert leaves, f"no {leaf_name!r} span in the trace: {[s.name for s in spans]}"
    chain = [leaves[0]]
    while chain[-1].parent_span_id != caller_span:
        parent = by_id.get(chain[-1].parent_span_id)
        assert parent is not None, (
            f"{chain[-1].service}'s {chain[-1].name!r} has a parent that is not in the trace: "
            f"{[(s.service, s.name) for s in spans]}"
        )
        chain.append(parent)
    return chain
