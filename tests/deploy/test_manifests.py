"""deploy/ checked offline: the Kustomize overlays rendered (`advocacy_devtools.kustomize`) and
every resource validated against the Kubernetes schemas (`kubernetes-validate`, strict: an unknown
field fails), what every process must have (probes, resources, a disruption budget, an autoscaler),
docker-compose.yml against the Compose specification's schema, the NATS and PostgreSQL values."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from advocacy_devtools.kustomize import KustomizeError, containers, render

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE = ROOT / "deploy" / "kustomize"
OVERLAYS = ["pilot", "production"]
KUBERNETES_VERSION = "1.33.0"
PROCESSES = {"planner", "ambassadors", "content", "metrics", "webhooks", "gateway"}
CONSUMERS = PROCESSES - {"gateway"}
OPERATOR_KINDS = {("postgresql.cnpg.io/v1", "Cluster")}
"""Custom resources of an operator: no schema in kubernetes-validate, checked by hand below."""


def rendered(overlay: str) -> list[dict[str, Any]]:
    return render(KUSTOMIZE / "overlays" / overlay)


def of_kind(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_resource_is_valid_against_the_kubernetes_schemas(overlay: str) -> None:
    resources = rendered(overlay)
    assert len(resources) > 20
    for resource in resources:
        if (resource["apiVersion"], resource["kind"]) in OPERATOR_KINDS:
            continue
        try:
            kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            name = f"{resource['kind']}/{resource['metadata']['name']}"
            pytest.fail(f"{overlay}: {name}: {exc.message} at {list(exc.path)}")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_process_has_probes_resources_a_budget_and_an_autoscaler(overlay: str) -> None:
    resources = rendered(overlay)
    deployments = of_kind(resources, "Deployment")
    assert set(deployments) == PROCESSES
    budgets = of_kind(resources, "PodDisruptionBudget")
    autoscalers = of_kind(resources, "HorizontalPodAutoscaler")
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]
        assert pod["metadata"]["labels"]["app.kubernetes.io/part-of"] == "advocacy"
        for container in pod["spec"]["containers"]:
            assert {"livenessProbe", "readinessProbe"} <= set(container), name
            assert {"requests", "limits"} <= set(container["resources"]), name
            assert container["image"] == "registry.example.com/advocacy:0.1.0", name
            assert "--no-migrate" in container["command"], name
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        selector = budgets[name]["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod["metadata"]["labels"].items(), name
        scaler = autoscalers[name]["spec"]
        target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert scaler["scaleTargetRef"] == target
        kinds = {metric["type"] for metric in scaler["metrics"]}
        assert "Resource" in kinds, name
        if name in CONSUMERS:
            assert "External" in kinds, f"{name} scales on consumer lag too"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migrations_run_as_a_job_and_the_namespace_denies_by_default(overlay: str) -> None:
    resources = rendered(overlay)
    (job,) = of_kind(resources, "Job").values()
    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    assert "migrate" in " ".join(migrate["args"])
    policies = of_kind(resources, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert {r["metadata"].get("namespace") for r in resources if r["kind"] != "Namespace"} == {
        "advocacy"
    }
    assert not of_kind(resources, "Secret"), "the Secret is created apart, never from git"


def test_the_overlays_differ_where_they_should() -> None:
    pilot = of_kind(rendered("pilot"), "Deployment")
    production = of_kind(rendered("production"), "Deployment")
    assert {d["spec"]["replicas"] for d in pilot.values()} == {1}
    assert {d["spec"]["replicas"] for d in production.values()} == {2}
    pilot_scalers = of_kind(rendered("pilot"), "HorizontalPodAutoscaler").values()
    assert {(s["spec"]["minReplicas"], s["spec"]["maxReplicas"]) for s in pilot_scalers} == {(1, 2)}
    (metrics,) = production["metrics"]["spec"]["template"]["spec"]["containers"]
    assert metrics["resources"]["limits"]["cpu"] == "2"
    assert metrics["livenessProbe"], "a patch merges into the container, it does not replace it"


def test_postgresql_comes_from_the_operator_with_three_instances_and_a_schema_per_service() -> None:
    (cluster,) = [r for r in rendered("production") if r["kind"] == "Cluster"]
    spec = cluster["spec"]
    assert spec["instances"] == 3
    assert spec["minSyncReplicas"] >= 1
    schemas = " ".join(spec["bootstrap"]["initdb"]["postInitApplicationSQL"])
    for service in ("planner", "ambassadors", "content", "metrics", "gateway"):
        assert f"CREATE SCHEMA {service} " in schemas


def test_nats_runs_three_nodes_with_file_storage_and_streams_replicated_three_times() -> None:
    values = yaml.safe_load((ROOT / "deploy" / "nats" / "helm-values.yaml").read_text())
    assert values["config"]["cluster"] == {"enabled": True, "replicas": 3}
    assert values["config"]["jetstream"]["enabled"] is True
    assert values["config"]["jetstream"]["fileStore"]["enabled"] is True
    for overlay in OVERLAYS:
        config = of_kind(rendered(overlay), "ConfigMap")["advocacy-config"]["data"]
        assert config["ADVOCACY_STREAM_REPLICAS"] == "3"


def test_docker_compose_is_valid_against_the_compose_specification() -> None:
    schema_file = files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    schema = json.loads(schema_file.read_text())
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert not errors, errors
    services = compose["services"]
    assert {"nats", "postgres", "migrate", *PROCESSES} <= set(services)
    for name in PROCESSES:
        migrated = services[name]["depends_on"]["migrate"]["condition"]
        assert migrated == "service_completed_successfully", name


def test_the_renderer_refuses_what_it_does_not_understand(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\nconfigMapGenerator: []\n")
    with pytest.raises(KustomizeError, match="configMapGenerator"):
        render(tmp_path)


def test_every_container_is_found_for_the_image_rewrite() -> None:
    resources = rendered("pilot")
    images = {c["image"] for c in containers(resources)}
    assert images == {"registry.example.com/advocacy:0.1.0"}
