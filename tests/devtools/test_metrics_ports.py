"""`advocacy run` gives every process a metrics port of its own, or none."""

from __future__ import annotations

from advocacy_devtools.cli import METRICS_PORT_ORDER, metrics_port
from advocacy_gateway.settings import GatewaySettings


def test_every_process_of_advocacy_run_gets_its_own_metrics_port() -> None:
    settings = GatewaySettings(metrics_port=9100)
    ports = [
        metrics_port(settings, process)["ADVOCACY_METRICS_PORT"] for process in METRICS_PORT_ORDER
    ]
    assert ports == [str(9100 + i) for i in range(len(METRICS_PORT_ORDER))]
    assert set(METRICS_PORT_ORDER) >= {"gateway", "planner", "webhooks"}
    assert metrics_port(settings, "webhooks")["ADVOCACY_METRICS_HOST"] == "127.0.0.1"


def test_no_metrics_port_no_listener_and_zero_a_free_port_each() -> None:
    assert metrics_port(GatewaySettings(), "planner") == {}
    assert metrics_port(GatewaySettings(metrics_port=0), "planner")["ADVOCACY_METRICS_PORT"] == "0"
