"""The CSI node plugin (``bpfman serve --csi-support``) driven as kubelet drives it.

The client is generated from the CSI spec's proto (``bpfman.server.csi_pb2*``).
A program is loaded through the daemon with the operator's metadata
(``bpfman.io/ProgramName``); a volume asking for its maps is published on a
target under a kubelet-like pod directory, checked (a bpffs bind mount, the
same kernel maps, group and modes) and unpublished, leaving no mount and no
directory behind. A retried publish answers OK, one that does not match the
published volume ALREADY_EXISTS; a retried unpublish answers OK. Bad requests
answer INVALID_ARGUMENT (malformed fields) or NOT_FOUND (a missing attribute,
an unknown program or map, as upstream's plugin) with one line and leave
nothing either.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

import bpfman
from bpfman.server import bpfman_pb2 as pb
from bpfman.server import csi_pb2 as csi
from bpfman.server import csi_pb2_grpc as csi_grpc
from support.cli import Cli
from support.daemon import FAST_RECONNECT, START_TIMEOUT, Daemon, rpc_error

C = grpc.StatusCode
GROUP = 2000
NODE = "node-a"


class Plugin:
    def __init__(self, daemon: Daemon, sock: str, app: str, prog_id: int, owner_maps: str) -> None:
        self.daemon = daemon
        self.channel = grpc.insecure_channel(f"unix:{sock}", options=FAST_RECONNECT)
        grpc.channel_ready_future(self.channel).result(timeout=START_TIMEOUT)
        self.identity = csi_grpc.IdentityStub(self.channel)
        self.node = csi_grpc.NodeStub(self.channel)
        self.app = app
        self.prog_id = prog_id
        self.owner_maps = owner_maps
        self.volumes = Path(daemon.cli.runtime) / "csi" / "fs"


@pytest.fixture
def plugin(tmp_path, bpf_obj) -> Iterator[Plugin]:
    cli = Cli()
    sock = str(tmp_path / "csi" / "csi.sock")
    env = dict(cli.env, KUBE_NODE_NAME=NODE)
    d = Daemon(
        cli, str(tmp_path / "bpfman.sock"), "--csi-support", "--csi-socket", sock, env=env
    ).ready(START_TIMEOUT)
    app = f"app-{uuid.uuid4().hex[:8]}"
    prog_id = 0
    try:
        loaded = d.stub.Load(
            pb.LoadRequest(
                bytecode=pb.BytecodeLocation(file=bpf_obj("basic")),
                info=[pb.LoadInfo(name="count_kill", program_type=pb.TRACEPOINT)],
                metadata={"bpfman.io/ProgramName": app},
                global_data={"target_pid": (0).to_bytes(4, "little")},
            )
        ).programs[0]
        prog_id = loaded.kernel_info.id
        p = Plugin(d, sock, app, prog_id, loaded.info.map_pin_path)
        yield p
        p.channel.close()
    finally:
        if prog_id:
            d.stub.Unload(pb.UnloadRequest(id=prog_id))
        rc = d.stop()
        cli.cleanup()
    assert rc == 0 and not os.path.exists(sock)


def publish_request(
    volume_id: str, target: Path, context: dict[str, str], group: str = str(GROUP), **kw: object
) -> csi.NodePublishVolumeRequest:
    """As kubelet sends it for an inline (ephemeral) volume of a pod with fsGroup."""
    cap = csi.VolumeCapability(
        mount=csi.VolumeCapability.MountVolume(volume_mount_group=group),
        access_mode=csi.VolumeCapability.AccessMode(
            mode=csi.VolumeCapability.AccessMode.SINGLE_NODE_WRITER
        ),
    )
    pod_info = {
        "csi.storage.k8s.io/ephemeral": "true",
        "csi.storage.k8s.io/pod.name": "counter-0",
        "csi.storage.k8s.io/pod.namespace": "default",
        "csi.storage.k8s.io/pod.uid": "5e1c0a3e",
        "csi.storage.k8s.io/serviceAccount.name": "default",
    }
    return csi.NodePublishVolumeRequest(
        volume_id=volume_id,
        target_path=str(target),
        volume_capability=cap,
        volume_context={**pod_info, **context},
        **kw,  # type: ignore[arg-type]
    )


def pod_target(tmp_path: Path, name: str = "maps") -> Path:
    """kubelet's target for an inline CSI volume; kubelet makes its parent, the plugin the rest."""
    parent = tmp_path / "pods" / "5e1c0a3e" / "volumes" / "kubernetes.io~csi" / name
    parent.mkdir(parents=True, exist_ok=True)
    return parent / "mount"


def mounts_under(*paths: Path | str) -> list[str]:
    """Mount points (this mount namespace) at or under any of *paths*."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4]
            if any(point == str(p) or point.startswith(f"{p}/") for p in paths):
                out.append(point)
    return out


def fstype_of(path: Path) -> tuple[str, str]:
    """(filesystem type, mount options) of the mount at *path*."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == str(path):
                sep = fields.index("-")
                return fields[sep + 1], fields[5]
    raise AssertionError(f"{path} is not a mount point")


def test_identity_and_node_info(plugin) -> None:
    info = plugin.identity.GetPluginInfo(csi.GetPluginInfoRequest())
    assert info.name == "csi.bpfman.io" and info.vendor_version
    assert plugin.identity.Probe(csi.ProbeRequest()).ready.value
    plugin_caps = plugin.identity.GetPluginCapabilities(csi.GetPluginCapabilitiesRequest())
    assert not plugin_caps.capabilities  # node only: no controller service
    caps = plugin.node.NodeGetCapabilities(csi.NodeGetCapabilitiesRequest()).capabilities
    assert [c.rpc.type for c in caps] == [csi.NodeServiceCapability.RPC.VOLUME_MOUNT_GROUP]
    assert plugin.node.NodeGetInfo(csi.NodeGetInfoRequest()).node_id == NODE
    err = rpc_error(plugin.node.NodeStageVolume, csi.NodeStageVolumeRequest(volume_id="v"))
    assert err.code() == C.UNIMPLEMENTED


def test_publish_shares_the_programs_maps_and_unpublish_leaves_nothing(plugin, tmp_path) -> None:
    target = pod_target(tmp_path)
    vid = f"csi-{uuid.uuid4().hex}"
    req = publish_request(
        vid, target, {"csi.bpfman.io/program": plugin.app, "csi.bpfman.io/maps": "counts, by_pid"}
    )
    plugin.node.NodePublishVolume(req)
    vdir = plugin.volumes / vid
    try:
        plugin.node.NodePublishVolume(req)  # kubelet retries: idempotent
        assert fstype_of(target)[0] == "bpf" and fstype_of(vdir)[0] == "bpf"
        kernels = {"maps.debug", "progs.debug"}  # every bpffs shows the kernel's preload iterators
        assert sorted(set(os.listdir(target)) - kernels) == ["by_pid", "counts"]
        root = os.stat(target)
        assert stat.S_IMODE(root.st_mode) == 0o750 and root.st_gid == GROUP
        for name in ("counts", "by_pid"):
            st = os.stat(target / name)
            assert stat.S_IMODE(st.st_mode) == 0o660 and (st.st_uid, st.st_gid) == (0, GROUP)
        # the pod's pin and the program's are the same kernel map
        with (
            bpfman.Map.from_pin(str(target / "counts")) as pod,
            bpfman.Map.from_pin(os.path.join(plugin.owner_maps, "counts")) as prog,
        ):
            assert pod.id == prog.id
            key = (0).to_bytes(pod.key_size, "little")
            pod[key] = (4242).to_bytes(pod.value_size, "little")
            assert int.from_bytes(prog[key], "little") == 4242
    finally:
        plugin.node.NodeUnpublishVolume(
            csi.NodeUnpublishVolumeRequest(volume_id=vid, target_path=str(target))
        )
    assert mounts_under(target, plugin.volumes) == []
    assert not target.exists() and not vdir.exists()
    assert target.parent.is_dir()  # kubelet's own directory stays
    again = csi.NodeUnpublishVolumeRequest(volume_id=vid, target_path=str(target))
    plugin.node.NodeUnpublishVolume(again)  # nothing left to do: still OK


def test_readonly_volume_without_group(plugin, tmp_path) -> None:
    target = pod_target(tmp_path, "ro")
    vid = f"csi-{uuid.uuid4().hex}"
    ctx = {"csi.bpfman.io/program": plugin.app, "csi.bpfman.io/maps": "counts"}
    plugin.node.NodePublishVolume(publish_request(vid, target, ctx, group="", readonly=True))
    try:
        _, options = fstype_of(target)
        assert options.split(",")[0] == "ro", options
        assert os.stat(target / "counts").st_gid == 0
        with pytest.raises(OSError):
            (target / "new").mkdir()
    finally:
        plugin.node.NodeUnpublishVolume(
            csi.NodeUnpublishVolumeRequest(volume_id=vid, target_path=str(target))
        )
    assert mounts_under(target, plugin.volumes) == [] and not target.exists()


def test_bad_requests_are_refused_and_leave_nothing(plugin, tmp_path) -> None:
    target = pod_target(tmp_path, "bad")
    good = {"csi.bpfman.io/program": plugin.app, "csi.bpfman.io/maps": "counts"}
    cases = [
        ({"csi.bpfman.io/maps": "counts"}, {}, C.NOT_FOUND,
         "volume attribute csi.bpfman.io/program missing"),
        ({"csi.bpfman.io/program": plugin.app}, {}, C.NOT_FOUND,
         "volume attribute csi.bpfman.io/maps missing"),
        ({}, {}, C.NOT_FOUND,
         "volume attribute csi.bpfman.io/program and csi.bpfman.io/maps missing"),
        ({**good, "csi.bpfman.io/maps": " , "}, {}, C.NOT_FOUND,
         "csi.bpfman.io/maps names no map"),
        ({**good, "csi.bpfman.io/maps": "../db"}, {}, C.INVALID_ARGUMENT,
         "csi.bpfman.io/maps: '../db' is not a map name"),
        ({**good, "csi.bpfman.io/program": "nobody"}, {}, C.NOT_FOUND,
         "no bpfman program with bpfman.io/ProgramName='nobody'"),
        ({**good, "csi.bpfman.io/maps": "counts,nosuch"}, {}, C.NOT_FOUND,
         f"program '{plugin.app}' (id {plugin.prog_id}) has no map nosuch"
         " (its maps: basic_bss, basic_data, basic_rodata, by_pid, counts)"),
        (good, {"group": "wheel"}, C.INVALID_ARGUMENT,
         "volume_mount_group 'wheel' is not a numeric group id"),
    ]  # fmt: skip
    for context, kw, code, message in cases:
        err = rpc_error(
            plugin.node.NodePublishVolume, publish_request("csi-bad", target, context, **kw)
        )
        assert (err.code(), err.details()) == (code, message), context
    bad_id = publish_request("../../fs", target, good)
    err = rpc_error(plugin.node.NodePublishVolume, bad_id)
    assert err.code() == C.INVALID_ARGUMENT and "volume id '../../fs'" in err.details()
    relative = publish_request("csi-bad", Path("pods/x"), good)
    err = rpc_error(plugin.node.NodePublishVolume, relative)
    assert err.details() == "target path 'pods/x' must be an absolute path"
    no_target = publish_request("csi-bad", target, {})  # a missing field before the attributes
    no_target.ClearField("target_path")
    err = rpc_error(plugin.node.NodePublishVolume, no_target)
    assert err.code() == C.INVALID_ARGUMENT
    assert err.details() == "target path '' must be an absolute path"
    for vid, path, what in (("", str(target), "volume id ''"), ("csi-bad", "", "target path ''")):
        unpub = csi.NodeUnpublishVolumeRequest(volume_id=vid, target_path=path)
        err = rpc_error(plugin.node.NodeUnpublishVolume, unpub)
        assert err.code() == C.INVALID_ARGUMENT and err.details().startswith(what), err.details()
    block = publish_request("csi-bad", target, good)
    block.volume_capability.block.SetInParent()
    err = rpc_error(plugin.node.NodePublishVolume, block)
    assert err.code() == C.INVALID_ARGUMENT and "block volumes are not supported" in err.details()
    no_cap = publish_request("csi-bad", target, good)
    no_cap.ClearField("volume_capability")
    assert rpc_error(plugin.node.NodePublishVolume, no_cap).details() == "volume_capability missing"
    assert mounts_under(target, plugin.volumes) == []
    assert not target.exists() and not (plugin.volumes / "csi-bad").exists()
    # a failure after the volume's bpffs and pins were made undoes them
    nowhere = Path("/proc/self/fdinfo/bpfman-csi-test/mount")  # cannot be created
    err = rpc_error(plugin.node.NodePublishVolume, publish_request("csi-bad", nowhere, good))
    assert err.code() == C.NOT_FOUND
    assert err.details() == f"cannot make target path {nowhere}: No such file or directory"
    assert mounts_under(plugin.volumes) == [] and not (plugin.volumes / "csi-bad").exists()
    target.symlink_to(tmp_path)  # never mounted over whatever a link points at
    err = rpc_error(plugin.node.NodePublishVolume, publish_request("csi-bad", target, good))
    assert err.details() == f"target path {target} exists and is not a directory"
    assert mounts_under(target, tmp_path, plugin.volumes) == []
    target.unlink()


def test_a_retry_that_does_not_match_the_published_volume_is_refused(plugin, tmp_path) -> None:
    """CSI: published at the target but incompatible (readonly, group): ALREADY_EXISTS."""
    target = pod_target(tmp_path, "again")
    vid = f"csi-{uuid.uuid4().hex}"
    ctx = {"csi.bpfman.io/program": plugin.app, "csi.bpfman.io/maps": "counts"}
    plugin.node.NodePublishVolume(publish_request(vid, target, ctx))
    other = plugin.volumes / f"{vid}-other"
    try:
        plugin.node.NodePublishVolume(publish_request(vid, target, ctx))  # the same: OK
        for kw, what in (({"readonly": True}, "read-only"), ({"group": "3000"}, "group 3000")):
            err = rpc_error(plugin.node.NodePublishVolume, publish_request(vid, target, ctx, **kw))
            assert err.code() == C.ALREADY_EXISTS, err.details()
            assert err.details() == (
                f"volume {vid} is published on {target} already, not {what}"
            ), err.details()
        assert fstype_of(target)[1].split(",")[0] == "rw" and os.stat(target).st_gid == GROUP
        # another volume's id on this target: its bpffs is not the one mounted there
        err = rpc_error(plugin.node.NodePublishVolume, publish_request(other.name, target, ctx))
        assert err.code() == C.ALREADY_EXISTS
        assert err.details() == f"target path {target} is a mount point already"
        assert mounts_under(target) == [str(target)] and not other.exists()
    finally:
        plugin.node.NodeUnpublishVolume(
            csi.NodeUnpublishVolumeRequest(volume_id=vid, target_path=str(target))
        )
    assert mounts_under(target, plugin.volumes) == [] and not target.exists()


def test_csi_options_are_checked() -> None:
    cli = Cli()
    try:
        res = cli("serve", "--csi-support", "--idle-timeout", "5", rc=2)
        assert "--idle-timeout cannot be used with --csi-support" in res.err
        res = cli("serve", "--csi-socket", "/tmp/x.sock", rc=2)
        assert "--csi-socket needs --csi-support" in res.err
    finally:
        cli.cleanup()
