"""dist/kubernetes/: the manifests are valid Kubernetes objects and say what the daemon needs.

Each object is checked against the Kubernetes API's JSON schema
(``kubernetes-validate``, strict: unknown fields are errors); the kustomize
overlays are rendered with ``kubectl kustomize`` where kubectl is installed.
The DaemonSet must run the image's ``bpfman serve`` with the CSI plugin and
the mounts the operator's DaemonSet gives bpfman.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped]

from conftest import ROOT

K8S = ROOT / "dist" / "kubernetes"
K8S_VERSION = "1.32"
KUBECTL = shutil.which("kubectl")
IMAGE = "quay.io/pybpfman/pybpfman"


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def validate(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def kustomize(directory: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [str(KUBECTL), "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return documents(out.stdout)


def test_every_manifest_is_a_valid_object() -> None:
    files = sorted(K8S.glob("*.yaml"))  # operator/'s patch is a fragment: checked rendered
    kinds = []
    for path in files:
        if path.name == "kustomization.yaml":
            continue
        for doc in documents(path.read_text()):
            validate(doc)
            kinds.append(doc["kind"])
    assert sorted(kinds) == ["CSIDriver", "ConfigMap", "DaemonSet", "Namespace"]
    bad = documents((K8S / "daemonset.yaml").read_text())[0]
    bad["spec"]["template"]["spec"]["containers"][0]["volumeMount"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(bad)  # the check sees a misspelt field


def test_daemonset_runs_serve_with_csi_and_the_mounts() -> None:
    (ds,) = documents((K8S / "daemonset.yaml").read_text())
    pod = ds["spec"]["template"]["spec"]
    assert pod["hostNetwork"] and pod["hostPID"]
    bpfman = next(c for c in pod["containers"] if c["name"] == "bpfman")
    assert bpfman["image"].startswith(IMAGE) and bpfman["securityContext"]["privileged"]
    assert "--csi-support" in bpfman["args"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounted = {m["mountPath"]: volumes[m["name"]] for m in bpfman["volumeMounts"]}
    host = {path: v["hostPath"]["path"] for path, v in mounted.items() if "hostPath" in v}
    for path in ("/sys/fs/bpf", "/run/bpfman", "/run/bpfman-sock", "/sys/kernel/debug",
                 "/sys/kernel/tracing", "/run/netns", "/var/lib/kubelet/pods"):  # fmt: skip
        assert host[path] == path, path
    assert host["/host/proc"] == "/proc"
    assert host["/run/bpfman/csi"] == "/var/lib/kubelet/plugins/csi-bpfman"  # the registrar's
    assert mounted["/etc/bpfman/bpfman.toml"]["configMap"]["name"] == "bpfman-config"
    registrar = next(c for c in pod["containers"] if c["name"] == "node-driver-registrar")
    assert "--csi-address=/csi/csi.sock" in registrar["args"]
    (driver,) = documents((K8S / "csidriver.yaml").read_text())
    assert driver["metadata"]["name"] == "csi.bpfman.io"


@pytest.mark.skipif(KUBECTL is None, reason="kubectl (its kustomize) is not installed")
def test_kustomize_renders_the_daemon_with_the_chosen_image(tmp_path) -> None:
    shutil.copytree(K8S, tmp_path / "base")  # kustomize takes relative paths only
    overlay = tmp_path / "mine"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        f"resources: [../base]\nimages:\n  - name: {IMAGE}\n    newName: 127.0.0.1:5000/me/bpfman\n"
        "    newTag: v1\n"
    )
    docs = kustomize(overlay)
    for doc in docs:
        validate(doc)
    (ds,) = (d for d in docs if d["kind"] == "DaemonSet")
    images = [c["image"] for c in ds["spec"]["template"]["spec"]["containers"]]
    assert images[0] == "127.0.0.1:5000/me/bpfman:v1"


@pytest.mark.skipif(KUBECTL is None, reason="kubectl (its kustomize) is not installed")
def test_operator_overlay_swaps_in_the_image(tmp_path) -> None:
    """The overlay on a stand-in for the operator's config/default (no network here)."""
    base = tmp_path / "operator-default"
    base.mkdir()
    (base / "kustomization.yaml").write_text(
        "namespace: bpfman\nnamePrefix: bpfman-\nresources: [deployment.yaml]\n"
    )
    (base / "deployment.yaml").write_text(
        """apiVersion: apps/v1
kind: Deployment
metadata: {name: operator, namespace: system}
spec:
  selector: {matchLabels: {control-plane: controller-manager}}
  template:
    metadata: {labels: {control-plane: controller-manager}}
    spec:
      containers:
        - name: bpfman-operator
          image: quay.io/bpfman/bpfman-operator:latest
          env:
            - {name: GO_LOG, value: info}
            - {name: BPFMAN_IMG, value: "quay.io/bpfman/bpfman:latest"}
            - {name: BPFMAN_AGENT_IMG, value: "quay.io/bpfman/bpfman-agent:latest"}
"""
    )
    overlay = tmp_path / "overlay"
    shutil.copytree(K8S / "operator", overlay)
    text = (overlay / "kustomization.yaml").read_text()
    remote = "https://github.com/bpfman/bpfman-operator/config/default?ref=main"
    assert remote in text
    (overlay / "kustomization.yaml").write_text(text.replace(remote, "../operator-default"))
    (deployment,) = kustomize(overlay)
    validate(deployment)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {
        "GO_LOG": "info",
        "BPFMAN_IMG": f"{IMAGE}:latest",
        "BPFMAN_AGENT_IMG": "quay.io/bpfman/bpfman-agent:latest",
    }
