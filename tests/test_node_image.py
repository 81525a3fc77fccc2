"""pybpfman's node image (dist/image/), built, pushed, pulled back and run as a container.

The image is built here without a container engine or a base image
(``dist/image/nodeimage.py``: an mmdebstrap bookworm root with the wheels,
cached under build/image/), pushed to a loopback docker-registry with
pybpfman's registry client, pulled back, and run the way the
bpfman-operator's DaemonSet runs it: privileged, host network, with
/sys/fs/bpf, /run/bpfman, /run/bpfman-sock, /sys/kernel/{debug,tracing},
/run/netns and the host's /proc mounted. podman runs it where podman can
start containers; where it cannot (this VM: crun/runc setrlimit EPERM, or no
podman), the pulled layer is unpacked and run under systemd-nspawn (which
cannot share the host's pid namespace: /proc is the host's at /host/proc).
The test prints which runtime ran it. The host then drives the daemon over
its socket: load, attach xdp in a network namespace and a tracepoint, list,
detach, unload, with the data path checked through the pinned maps; and asks
the CSI plugin (``--csi-support``, as the DaemonSet passes it) who it is,
and scrapes its metrics (``--metrics``) from the host.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from bpfman.images.reference import parse
from bpfman.images.registry import Registry
from bpfman.server import bpfman_pb2 as pb
from bpfman.server import bpfman_pb2_grpc as pb_grpc
from bpfman.server import csi_pb2 as csi
from bpfman.server import csi_pb2_grpc as csi_grpc
from conftest import BUILD, ROOT
from support.cli import Cli
from support.daemon import FAST_RECONNECT, START_TIMEOUT
from support.net import XDP_DROP, VethPair
from support.registry import LocalRegistry, free_port
from test_metrics import scrape, value

sys.path.insert(0, str(ROOT / "dist" / "image"))
import nodeimage  # type: ignore[import-not-found]  # dist/image, put on the path above

pytestmark = pytest.mark.slow
NSPAWN = shutil.which("systemd-nspawn")
MMDEBSTRAP = shutil.which("mmdebstrap")
# what the DaemonSets pass to the image's entrypoint (the operator's: --csi-support)
ARGS = ["--csi-support", "--metrics", f"127.0.0.1:{free_port()}"]
METRICS = ARGS[-1]
NODE = "node-image-test"


def test_containerfile_installs_what_the_built_image_has() -> None:
    """The Containerfile for docker/podman users matches nodeimage.py's image."""
    text = (ROOT / "dist" / "image" / "Containerfile").read_text()
    (apt,) = re.findall(r"apt-get install -y --no-install-recommends ([^\\&]+)", text)
    assert apt.split() == nodeimage.packages()
    (entry,) = re.findall(r"^ENTRYPOINT (.*)$", text, re.M)
    assert json.loads(entry) == nodeimage.ENTRYPOINT
    assert f"python3 -m venv {nodeimage.VENV}" in text and "FROM " in text


def test_pack_makes_an_oci_image_of_the_layers(tmp_path) -> None:
    tars = [tmp_path / "base.tar", tmp_path / "app.tar"]
    subprocess.run(["tar", "-cf", str(tars[0]), "-C", str(ROOT / "dist"), "image"], check=True)
    subprocess.run(["tar", "-cf", str(tars[1]), "-C", str(ROOT / "dist"), "systemd"], check=True)
    img = nodeimage.pack(tars, "9.9")
    manifest, config = json.loads(img.manifest), json.loads(img.config)
    assert manifest["config"]["digest"] == nodeimage.digest(img.config)
    assert [layer["digest"] for layer in manifest["layers"]] == [
        nodeimage.digest(data) for data in img.layers
    ]
    assert [gzip.decompress(data) for data in img.layers] == [t.read_bytes() for t in tars]
    assert config["rootfs"]["diff_ids"] == [nodeimage.digest(t.read_bytes()) for t in tars]
    assert config["config"]["Entrypoint"] == ["/usr/local/bin/bpfman", "serve"]
    assert config["config"]["Labels"]["org.opencontainers.image.version"] == "9.9"
    assert len(config["history"]) == 2


# ---------------------------------------------------------------------- runtimes


class Container:
    """The pulled image, running; ``stop`` ends it (SIGTERM to bpfman serve)."""

    runtime = ""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err


def mounts(runtime: Path, sock_dir: Path) -> list[tuple[str, str]]:
    """(host path, container path) as the operator's DaemonSet mounts them."""
    pairs = [
        ("/sys/fs/bpf", "/sys/fs/bpf"),
        (str(runtime), "/run/bpfman"),
        (str(sock_dir), "/run/bpfman-sock"),
        ("/sys/kernel/debug", "/sys/kernel/debug"),
        ("/sys/kernel/tracing", "/sys/kernel/tracing"),
        ("/run/netns", "/run/netns"),
        ("/proc", "/host/proc"),
    ]
    return [(h, c) for h, c in pairs if os.path.exists(h)]


def podman_can_run(image: str) -> bool:
    """Whether podman exists and starts a container of *image* here."""
    if shutil.which("podman") is None:
        return False
    pull = ["podman", "pull", "-q", "--tls-verify=false", image]
    if subprocess.run(pull, capture_output=True, timeout=300).returncode != 0:
        return False
    probe = ["podman", "run", "--rm", "--entrypoint", "/usr/local/bin/bpfman", image, "--version"]
    if subprocess.run(probe, capture_output=True, timeout=120).returncode == 0:
        return True
    podman_forget(image)
    return False


def podman_forget(image: str) -> None:
    """Remove *image* from podman's storage (the test leaves nothing behind)."""
    if shutil.which("podman") is not None:
        subprocess.run(["podman", "rmi", "-f", image], capture_output=True, timeout=120)


def run_podman(image: str, binds: list[tuple[str, str]], objects: Path) -> Container:
    cmd = ["podman", "run", "--rm", "--privileged", "--network=host", "--pid=host"]
    for host, inside in binds:
        cmd += ["-v", f"{host}:{inside}"]
    cmd += ["-v", f"{objects}:{objects}:ro", "-e", f"KUBE_NODE_NAME={NODE}", image, *ARGS]
    c = Container(subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True))
    c.runtime = "podman (--privileged --network=host --pid=host)"
    return c


def run_nspawn(
    root: Path, config: dict[str, Any], binds: list[tuple[str, str]], objects: Path, machine: str
) -> Container:
    cmd = [
        str(NSPAWN), "--quiet", "--keep-unit", "--register=no", f"--machine={machine}",
        "--directory", str(root), "--capability=all", "--kill-signal=SIGTERM",
        "--system-call-filter=bpf perf_event_open",  # privileged: nspawn's filter refuses them
    ]  # fmt: skip
    cmd += [f"--bind={host}:{inside}" for host, inside in binds]
    cmd += [f"--bind-ro={objects}"]
    cmd += [f"--setenv={e}" for e in config["config"].get("Env", [])]
    cmd += [f"--setenv=KUBE_NODE_NAME={NODE}"]
    cmd += ["--", *config["config"]["Entrypoint"], *ARGS]
    c = Container(subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True))
    c.runtime = (
        "systemd-nspawn (the pulled layer unpacked; all capabilities, bpf/perf_event_open"
        " allowed, host network; own pid namespace, host /proc at /host/proc)"
    )
    return c


@contextlib.contextmanager
def registry() -> Iterator[LocalRegistry]:
    reg = LocalRegistry()
    try:
        yield reg
    finally:
        reg.close()


def pull(url: str, dest: Path) -> tuple[dict[str, Any], list[Path]]:
    """The image's config and its layers (saved under *dest*), with pybpfman's registry client."""
    layers = []
    with Registry(parse(url), None) as reg:
        manifest = json.loads(reg.manifest().data)
        config = json.loads(reg.blob(manifest["config"]["digest"]))
        for i, layer in enumerate(manifest["layers"]):
            layers.append(dest / f"layer{i}.tar.gz")
            layers[-1].write_bytes(reg.blob(layer["digest"], limit=1 << 30))
    return config, layers


# ---------------------------------------------------------------------- the image, run


@pytest.mark.timeout(1800)  # the first build of the root: minutes (then cached)
@pytest.mark.skipif(MMDEBSTRAP is None, reason="mmdebstrap missing (scripts/setup.sh installs it)")
def test_node_image_serves_bpfman_to_the_host(tmp_path, bpf_obj, capsys) -> None:
    img = nodeimage.build()
    cli = Cli()
    sock_dir = tmp_path / "sock"
    sock_dir.mkdir()
    os.makedirs(cli.fs, exist_ok=True)
    subprocess.run(["mount", "-t", "bpf", "bpf", cli.fs], check=True)  # the host's, as on a node
    machine = f"pbt-{uuid.uuid4().hex[:8]}"
    container: Container | None = None
    podman_image = None
    # the namespace first: a container sees the /run/netns mounts there when it starts
    veth = VethPair("img")
    try:
        with registry() as reg:
            url = reg.url("pybpfman/node:test")
            digest = nodeimage.push(img, url)
            config, layers = pull(url, tmp_path)
            assert digest == nodeimage.digest(img.manifest)
            binds = mounts(Path(cli.runtime), sock_dir)
            if podman_can_run(url):
                podman_image = url
                container = run_podman(url, binds, BUILD)
            else:
                assert NSPAWN, "neither podman nor systemd-nspawn (systemd-container) can run it"
                root = tmp_path / "root"
                root.mkdir()
                for layer in layers:  # in order; the image's layers remove nothing
                    subprocess.run(
                        ["tar", "-xzpf", str(layer), "--numeric-owner", "-C", str(root)],
                        check=True,
                    )
                container = run_nspawn(root, config, binds, BUILD, machine)
        with capsys.disabled():  # in the suite's output, whatever the capture
            print(f"\nnode image {digest} runs under {container.runtime}")
        channel = grpc.insecure_channel(f"unix:{sock_dir}/bpfman.sock", options=FAST_RECONNECT)
        try:
            grpc.channel_ready_future(channel).result(timeout=START_TIMEOUT)
        except grpc.FutureTimeoutError:
            rc, err = container.stop()
            raise AssertionError(f"bpfman serve in the container: rc {rc}\n{err}") from None
        with channel:
            drive(pb_grpc.BpfmanStub(channel), cli, bpf_obj, veth)
        with grpc.insecure_channel(f"unix:{cli.runtime}/csi/csi.sock") as csi_channel:
            info = csi_grpc.IdentityStub(csi_channel).GetPluginInfo(csi.GetPluginInfoRequest())
            assert info.name == "csi.bpfman.io"
            node = csi_grpc.NodeStub(csi_channel).NodeGetInfo(csi.NodeGetInfoRequest())
            assert node.node_id == NODE
        rc, err = container.stop()
        container = None
        assert rc == 0 and "Traceback" not in err, err
        assert not (sock_dir / "bpfman.sock").exists()
    finally:
        if container is not None:
            container.stop()
        veth.close()
        if podman_image is not None:
            podman_forget(podman_image)
        shutil.rmtree(f"/run/systemd/nspawn/propagate/{machine}", ignore_errors=True)
        cli.cleanup()


def drive(stub: pb_grpc.BpfmanStub, cli: Cli, bpf_obj, veth: VethPair) -> None:
    """What the operator's agent does, over the socket: load, attach, list, detach, unload."""
    xdp = stub.Load(
        pb.LoadRequest(
            bytecode=pb.BytecodeLocation(file=bpf_obj("net")),
            info=[pb.LoadInfo(name="xdp_drop", program_type=pb.XDP)],
            metadata={"bpfman.io/ProgramName": "node-image-test"},
        )
    ).programs[0]
    tp = stub.Load(
        pb.LoadRequest(
            bytecode=pb.BytecodeLocation(file=bpf_obj("basic")),
            info=[pb.LoadInfo(name="count_kill", program_type=pb.TRACEPOINT)],
            global_data={"target_pid": os.getpid().to_bytes(4, "little")},
        )
    ).programs[0]
    xdp_id, tp_id = xdp.kernel_info.id, tp.kernel_info.id
    try:
        listed = stub.List(pb.ListRequest(bpfman_programs_only=True)).results
        assert {r.kernel_info.id for r in listed} == {xdp_id, tp_id}
        tp_attach = pb.AttachInfo(
            tracepoint_attach_info=pb.TracepointAttachInfo(tracepoint="syscalls/sys_enter_kill")
        )
        tp_link = stub.Attach(pb.AttachRequest(id=tp_id, attach=tp_attach)).link_id
        metrics = scrape(METRICS)  # the container's exporter, on the host network
        assert value(metrics, "bpfman_programs", type="xdp") == 1
        assert value(metrics, "bpfman_links", type="tracepoint") == 1
        assert value(metrics, "bpfman_rpc_requests_total", rpc="Load", code="OK") == 2
        for _ in range(4):
            os.kill(os.getpid(), 0)
        assert map_value(cli, tp_id, "counts", 0) == 4  # the host's kills, seen by the program
        drop = pb.XDPAttachInfo(priority=5, iface=veth.peer, netns=veth.netns_path)
        xdp_link = stub.Attach(
            pb.AttachRequest(id=xdp_id, attach=pb.AttachInfo(xdp_attach_info=drop))
        ).link_id
        assert veth.send(3, to="peer") == 0  # dropped inside the namespace
        assert map_value(cli, xdp_id, "counters", XDP_DROP) == 3
        got = stub.Get(pb.GetRequest(id=xdp_id))
        assert list(got.info.links) == [xdp_link]
        stub.Detach(pb.DetachRequest(link_id=xdp_link))
        assert veth.send(2, to="peer") == 2
        stub.Detach(pb.DetachRequest(link_id=tp_link))
    finally:
        stub.Unload(pb.UnloadRequest(id=tp_id))
        stub.Unload(pb.UnloadRequest(id=xdp_id))
    assert not stub.List(pb.ListRequest(bpfman_programs_only=True)).results
    assert cli.pins() == []


def map_value(cli: Cli, owner: int, name: str, index: int) -> int:
    import bpfman

    with bpfman.Map.from_pin(f"{cli.fs}/maps/{owner}/{name}") as m:
        return int.from_bytes(m[index.to_bytes(4, "little")], "little")
