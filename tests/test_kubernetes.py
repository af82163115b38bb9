"""The Kubernetes manifests (deploy/k8s, kustomize base + production overlay) build, validate against the
Kubernetes API schemas, and hold what a production deployment needs: probes and resources on every
container, autoscaling for the API and Rasa, WebSocket-ready ingress, secrets referenced never embedded,
and migrations as a Job. Plus the worker's probe command."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
K8S_VERSION = "1.32"  # the oldest Kubernetes these manifests are checked against
SECRET = "zhidian-secrets"


def build(overlay: str) -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("needs kubectl (its built-in kustomize) to build deploy/k8s")
    out = subprocess.run([kubectl, "kustomize", str(ROOT / "deploy" / "k8s" / overlay)], check=True,
                         capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=["base", "overlays/production"])
def resources(request) -> list[dict]:
    return build(request.param)


def by_kind(resources: list[dict], kind: str) -> dict[str, dict]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def containers(resource: dict) -> list[dict]:
    spec = resource["spec"]["template"]["spec"] if resource["kind"] in ("Deployment", "Job") else {}
    return spec.get("containers", [])


def test_every_resource_is_valid_for_the_kubernetes_api(resources):
    for resource in resources:
        kubernetes_validate.validate(resource, K8S_VERSION, strict=True)  # raises with the field at fault


def test_every_long_running_container_has_probes_and_resources(resources):
    deployments = by_kind(resources, "Deployment")
    assert set(deployments) == {"api", "worker", "actions", "rasa"}
    for name, deployment in deployments.items():
        for container in containers(deployment):
            assert container.get("readinessProbe") and container.get("livenessProbe"), name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
    assert containers(deployments["rasa"])[0]["startupProbe"]["failureThreshold"] >= 18  # model load ≤ 3 min+


def test_the_api_and_rasa_scale_out_and_only_the_api_is_exposed(resources):
    scalers = by_kind(resources, "HorizontalPodAutoscaler")
    assert {s["spec"]["scaleTargetRef"]["name"] for s in scalers.values()} == {"api", "rasa"}
    assert all(s["spec"]["minReplicas"] >= 2 for s in scalers.values())  # one pod down, still served
    [ingress] = by_kind(resources, "Ingress").values()
    backends = {p["backend"]["service"]["name"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}
    assert backends == {"api"}
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-http-version"] == "1.1"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600  # chat and OCPP sockets


def test_secrets_are_referenced_never_embedded(resources):
    assert by_kind(resources, "Secret") == {}
    text = yaml.safe_dump_all(resources)
    for value in ("dev-service-token", "dev-staff-secret", "dev-rasa-token", "dev-metering-token"):
        assert value not in text
    for resource in resources:
        for container in containers(resource):
            for env in container.get("env", []):
                assert "value" not in env or not any(w in env["name"] for w in ("TOKEN", "SECRET", "PASSWORD")), env
            refs = [e["secretRef"]["name"] for e in container.get("envFrom", []) if "secretRef" in e]
            refs += [e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", []) if "valueFrom" in e]
            assert set(refs) <= {SECRET}


def test_rasa_keeps_trackers_and_locks_in_redis_under_the_deployments_prefix(resources):
    maps = {name.rsplit("-", 1)[0]: m for name, m in by_kind(resources, "ConfigMap").items()}
    endpoints = yaml.safe_load(maps["rasa-endpoints"]["data"]["endpoints.yml"])
    for store in ("tracker_store", "lock_store"):
        assert endpoints[store]["type"] == "redis" and endpoints[store]["key_prefix"].isalnum()
    assert maps["zhidian-config"]["data"]["BACKGROUND_WORKERS"] == "false"  # the worker Deployment runs them


def test_migrations_run_as_a_job_and_production_pins_its_images(resources):
    [job] = by_kind(resources, "Job").values()
    assert containers(job)[0]["command"][-1] == "migrate" and job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    images = {c["image"] for r in resources for c in containers(r)}
    if any(r["metadata"].get("namespace") == "zhidian" for r in resources):  # the production overlay
        assert all(not image.endswith(":latest") for image in images), images


def test_the_workers_probe_says_whether_the_database_and_redis_answer(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'probe.db'}"}
    ok = subprocess.run([sys.executable, "-m", "api", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.strip() == "ok", ok.stderr
    down = subprocess.run([sys.executable, "-m", "api", "check"], cwd=ROOT, capture_output=True, text=True,
                          env={**env, "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert down.returncode == 1 and down.stderr.startswith("unhealthy: ConnectionError")
