"""The production manifests (deploy/kubernetes/) parse as YAML and say what deploy/README.md says: every
Tocsin process has resource limits, the API servers are probed on /healthz and /readyz, each process has a
second replica to take over, and the variables they set are Tocsin's settings."""

from __future__ import annotations

import os
import re

import yaml

from tests.support.paths import ROOT

MANIFESTS = ROOT / "deploy" / "kubernetes"


def documents(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((MANIFESTS / name).read_text()) if d]


def test_every_manifest_is_yaml_and_tocsin_processes_are_limited_probed_and_doubled() -> None:
    assert sorted(p.name for p in MANIFESTS.glob("*.yaml")) == [
        "nats-values.yaml", "postgresql-cluster.yaml", "tocsin.yaml"]
    deployments = {d["metadata"]["name"]: d for d in documents("tocsin.yaml") if d["kind"] == "Deployment"}
    assert set(deployments) == {"tocsin-api", "tocsin-ingest", "tocsin-worker"}
    for deployment in deployments.values():
        assert deployment["spec"]["replicas"] >= 2
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert {"cpu", "memory"} <= set(container["resources"]["limits"])
            assert "livenessProbe" in container
    api = deployments["tocsin-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_the_settings_the_manifests_set_are_those_tocsin_reads() -> None:
    config = next(d for d in documents("tocsin.yaml") if d["kind"] == "ConfigMap")["data"]
    settings = (ROOT / "adapters" / "settings.py").read_text() + (ROOT / "api" / "auth.py").read_text()
    read = set(re.findall(r"TOCSIN_[A-Z_]+", settings)) | {"TOCSIN_PROJECTIONS_IN_APP"}
    assert set(config) <= read, set(config) - read
    assert "target_session_attrs=read-write" in config["TOCSIN_DATABASE_URL"]
    assert "target_session_attrs=prefer-standby" in config["TOCSIN_READ_DATABASE_URL"]
    assert len(config["TOCSIN_NATS_URL"].split(",")) == int(config["TOCSIN_NATS_REPLICAS"]) == 3


def test_postgresql_is_a_synchronous_cloudnativepg_cluster_and_nats_a_three_server_jetstream_cluster() -> None:
    (cluster,) = documents("postgresql-cluster.yaml")
    assert cluster["apiVersion"].startswith("postgresql.cnpg.io/") and cluster["kind"] == "Cluster"
    assert cluster["spec"]["instances"] >= 2 and cluster["spec"]["minSyncReplicas"] >= 1
    (values,) = documents("nats-values.yaml")
    assert values["config"]["cluster"] == {"enabled": True, "replicas": 3}
    assert values["config"]["jetstream"]["enabled"] is True


def test_the_local_cluster_script_is_executable() -> None:
    assert os.access(ROOT / "deploy" / "local-cluster", os.X_OK)
