"""Renders the Kustomize overlays of deploy/kustomize/ in Python, for CI to validate them.

No kustomize binary installs from PyPI, so this renders the subset of Kustomize that
deploy/kustomize/ uses, the way `kubectl kustomize` does: `resources` (files and directories
holding a kustomization), `namespace`, `labels` (`pairs`, `includeTemplates`), `images`,
`replicas` and `patches` (strategic-merge patches from a file, to the resource of the patch's kind
and name or to every resource of a `target` kind). Any other field is refused, so that a
kustomization this renderer would misread fails the check instead of passing it unseen.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

SUPPORTED = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "images",
    "replicas",
    "patches",
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


class KustomizeError(ValueError):
    pass


def load_documents(path: Path) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render(folder: Path) -> list[Resource]:
    """The resources the kustomization in `folder` produces, in order."""
    kustomization = load_documents(folder / "kustomization.yaml")[0]
    unknown = set(kustomization) - SUPPORTED
    if unknown:
        raise KustomizeError(f"{folder}: fields this renderer does not support: {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        target = (folder / entry).resolve()
        resources += render(target) if target.is_dir() else load_documents(target)
    for patch in kustomization.get("patches", []):
        _apply_patch(resources, folder, patch)
    for replica in kustomization.get("replicas", []):
        _set_replicas(resources, replica["name"], int(replica["count"]))
    for label in kustomization.get("labels", []):
        _add_labels(resources, label["pairs"], templates=bool(label.get("includeTemplates")))
    for image in kustomization.get("images", []):
        _set_image(resources, image)
    if namespace := kustomization.get("namespace"):
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource.setdefault("metadata", {})["namespace"] = namespace
    return resources


def strategic_merge(base: Any, patch: Any) -> Any:
    """Maps merge key by key; lists of maps that all have a `name` merge item by item on it;
    any other value is replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = strategic_merge(base[key], value) if key in base else value
        return merged
    if _named_list(base) and _named_list(patch):
        merged_list = list(base)
        for item in patch:
            index = next((i for i, b in enumerate(merged_list) if b["name"] == item["name"]), None)
            if index is None:
                merged_list.append(item)
            else:
                merged_list[index] = strategic_merge(merged_list[index], item)
        return merged_list
    return copy.deepcopy(patch)


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and "name" in i for i in value)


def _apply_patch(resources: list[Resource], folder: Path, entry: dict[str, Any]) -> None:
    if set(entry) - {"path", "target"}:
        raise KustomizeError(f"{folder}: only `path` and `target` patches are supported: {entry}")
    (patch,) = load_documents(folder / entry["path"])
    target = entry.get("target") or {"kind": patch["kind"], "name": patch["metadata"]["name"]}
    if set(target) - {"kind", "name"}:
        raise KustomizeError(f"{folder}: a patch target takes `kind` and `name` only: {target}")
    matched = False
    for index, resource in enumerate(resources):
        if resource["kind"] != target["kind"]:
            continue
        if "name" in target and resource["metadata"]["name"] != target["name"]:
            continue
        body = {k: v for k, v in patch.items() if k not in {"apiVersion", "kind", "metadata"}}
        metadata = {k: v for k, v in patch.get("metadata", {}).items() if k != "name"}
        resources[index] = strategic_merge(resource, body | {"metadata": metadata})
        matched = True
    if not matched:
        raise KustomizeError(f"{folder}: patch {entry['path']} matches no resource")


def _set_replicas(resources: list[Resource], name: str, count: int) -> None:
    found = [r for r in resources if r["metadata"]["name"] == name and "replicas" in r["spec"]]
    if not found:
        raise KustomizeError(f"replicas: no resource named {name} with replicas")
    for resource in found:
        resource["spec"]["replicas"] = count


def _add_labels(resources: list[Resource], pairs: dict[str, str], *, templates: bool) -> None:
    for resource in resources:
        resource.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
        template = resource.get("spec", {}).get("template")
        if templates and isinstance(template, dict):
            template.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)


def _set_image(resources: list[Resource], image: dict[str, str]) -> None:
    for container in containers(resources):
        name, _, _tag = str(container["image"]).partition(":")
        if name == image["name"]:
            new = image.get("newName", name)
            container["image"] = f"{new}:{image['newTag']}" if "newTag" in image else new


def containers(resources: list[Resource]) -> Iterator[dict[str, Any]]:
    """Every container and init container of every pod template."""
    for resource in resources:
        pod = resource.get("spec", {}).get("template", {}).get("spec", {})
        yield from pod.get("initContainers", [])
        yield from pod.get("containers", [])
