"""The k3s manifests: kubernetes-validate accepts every resource (strictly: unknown fields
fail), and the manifests keep the deploy contract (agents on labelled nodes, gRPC probes,
headless discovery, non-root pods, the leader config matching LeaderSettings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.tools import DEPLOY

K8S = DEPLOY / "k8s"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
# k3s stable channels as of writing, and the newest schema kubernetes-validate bundles.
VERSIONS = ["1.31.0", "1.33.0", "latest"]


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _all() -> dict[str, dict[str, Any]]:
    return {f"{d['kind']}/{d['metadata']['name']}": d for p in MANIFESTS for d in _docs(p)}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_kubernetes_validate_accepts(path: Path, version: str) -> None:
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="pip install kubernetes-validate==1.37.0"
    )
    wanted = kubernetes_validate.latest_version() if version == "latest" else version
    for doc in _docs(path):
        try:
            kubernetes_validate.validate(doc, wanted, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{path.name} ({doc['kind']}) on {wanted}: {error.message}")


def test_validation_catches_a_typo() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    [daemonset] = _docs(K8S / "agent-daemonset.yaml")
    daemonset["spec"]["template"]["spec"]["nodeSelectr"] = {"x": "y"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(daemonset, "1.31.0", strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == [p.name for p in MANIFESTS]
    assert kustomization["resources"][0] == "namespace.yaml"


def test_agents_run_on_labelled_nodes_with_grpc_probes() -> None:
    ds = _all()["DaemonSet/conclave-agent"]
    pod = ds["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"conclave.dev/role": "agent"}
    [agent] = pod["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert agent[probe]["grpc"] == {"port": 50051}
    assert agent["resources"]["limits"]["memory"]
    assert agent["resources"]["requests"]["memory"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["models"]["hostPath"]["path"] == "/var/lib/conclave/models"
    env = {e["name"]: e for e in agent["env"]}
    assert env["CONCLAVE_AGENT_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"


def test_headless_service_selects_the_agents() -> None:
    resources = _all()
    service = resources["Service/conclave-agent"]
    assert service["spec"]["clusterIP"] == "None"
    labels = resources["DaemonSet/conclave-agent"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["port"] == 50051


def test_every_pod_runs_restricted() -> None:
    for name, resource in _all().items():
        if resource["kind"] not in ("Deployment", "DaemonSet"):
            continue
        pod = resource["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert ":" in container["image"] and not container["image"].endswith(":latest")
            assert container["resources"]["limits"]["memory"], name


def test_leader_and_gateway_wiring() -> None:
    resources = _all()
    leader = resources["Deployment/conclave-leader"]["spec"]["template"]["spec"]
    [container] = leader["containers"]
    assert container["args"][:5] == ["leader", "--host", "0.0.0.0", "--port", "50050"]
    assert container["readinessProbe"]["grpc"] == {"port": 50050}
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/var/lib/conclave", "/etc/conclave"} <= mounts
    gateway = resources["Deployment/conclave-gateway"]["spec"]["template"]["spec"]
    [container] = gateway["containers"]
    assert "--leader" in container["args"]
    assert container["args"][container["args"].index("--leader") + 1] == "conclave-leader:50050"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    ingress = resources["Ingress/conclave-gateway"]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "conclave-gateway"


def test_leader_config_names_real_settings(tmp_path: Path) -> None:
    # The settings' config-file source drops unknown keys silently, so a misspelt key here
    # would be ignored at run time: check each one against LeaderSettings.
    settings_module = pytest.importorskip("conclave.leader.settings")
    data = yaml.safe_load(_all()["ConfigMap/conclave-leader"]["data"]["leader.yaml"])
    assert set(data) <= set(settings_module.LeaderSettings.model_fields), set(data)
    config = tmp_path / "leader.yaml"
    config.write_text(yaml.safe_dump(data))
    settings = settings_module.LeaderSettings(config_file=config)
    assert settings.kubernetes_service == "conclave-agent.conclave.svc.cluster.local"
    assert settings.discover is False


def test_every_deployable_reads_the_swarm_token_from_one_secret() -> None:
    """From the environment (a secretKeyRef), never the command line; optional, so a
    cluster without the Secret still starts (docs/deploy.md says what that exposes)."""
    resources = _all()
    for kind, name, prefix in (
        ("DaemonSet", "conclave-agent", "AGENT"),
        ("Deployment", "conclave-leader", "LEADER"),
        ("Deployment", "conclave-gateway", "GATEWAY"),
    ):
        [container] = resources[f"{kind}/{name}"]["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container.get("env", [])}
        ref = env[f"CONCLAVE_{prefix}_SWARM_TOKEN"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "conclave-swarm", "key": "token", "optional": True}, name
        assert not any("token" in str(a).lower() for a in container["args"]), name
