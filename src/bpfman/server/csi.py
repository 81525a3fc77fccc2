"""The CSI node plugin (``bpfman serve --csi-support``): driver ``csi.bpfman.io``.

The Identity and Node services of the CSI spec (``proto/csi/v1/csi.proto``)
on their own Unix socket (default ``<runtime>/csi/csi.sock``, which the
operator's DaemonSet shares with kubelet's node-driver-registrar). Volumes
are ephemeral inline volumes holding a program's maps
(``bpfman.manager.volumes``): NodePublishVolume makes and mounts one,
NodeUnpublishVolume takes it away. The plugin has no controller side: no
staging, no volume stats, no expansion (those answer UNIMPLEMENTED).
Failures answer a status code and one line, as the daemon's API does
(a missing field or a malformed value INVALID_ARGUMENT; a missing attribute,
an unknown program or map NOT_FOUND, as upstream's plugin; a volume already
on the target but not as asked ALREADY_EXISTS).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

import grpc

from bpfman.manager.errors import InputError
from bpfman.server import csi_pb2 as csi
from bpfman.server import csi_pb2_grpc as csi_grpc
from bpfman.server.status import status_of

if TYPE_CHECKING:
    from bpfman.manager.core import Manager

DRIVER_NAME = "csi.bpfman.io"
log = logging.getLogger("bpfman.csi")


def node_id() -> str:
    """The node's name: $KUBE_NODE_NAME (the DaemonSet sets it), else the host name."""
    return os.environ.get("KUBE_NODE_NAME") or os.uname().nodename


def _version() -> str:
    try:
        return version("pybpfman")
    except PackageNotFoundError:
        return "0"


class IdentityServicer(csi_grpc.IdentityServicer):
    def GetPluginInfo(
        self, request: csi.GetPluginInfoRequest, context: grpc.ServicerContext
    ) -> csi.GetPluginInfoResponse:
        return csi.GetPluginInfoResponse(name=DRIVER_NAME, vendor_version=_version())

    def GetPluginCapabilities(
        self, request: csi.GetPluginCapabilitiesRequest, context: grpc.ServicerContext
    ) -> csi.GetPluginCapabilitiesResponse:
        return csi.GetPluginCapabilitiesResponse()  # a node-only plugin: no controller service

    def Probe(self, request: csi.ProbeRequest, context: grpc.ServicerContext) -> csi.ProbeResponse:
        return csi.ProbeResponse(ready={"value": True})


def mount_group(cap: csi.VolumeCapability) -> int | None:
    """The gid of the capability's ``volume_mount_group`` (None if unset); InputError if bad."""
    if cap.HasField("block"):
        raise InputError("block volumes are not supported: csi.bpfman.io volumes are bpffs mounts")
    group = cap.mount.volume_mount_group
    if not group:
        return None
    if not group.isdigit():
        raise InputError(f"volume_mount_group {group!r} is not a numeric group id")
    return int(group)


class NodeServicer(csi_grpc.NodeServicer):
    """Node service: volumes are published and unpublished one at a time."""

    def __init__(self, runtime_dir: str | None, config_path: str | None) -> None:
        self.runtime_dir = runtime_dir
        self.config_path = config_path
        self._lock = threading.Lock()

    def _call(
        self, name: str, context: grpc.ServicerContext, fn: Callable[[Manager], None]
    ) -> None:
        """Run *fn* with a Manager; its failure becomes a status code and one line."""
        from bpfman.manager.core import Manager

        try:
            with self._lock, Manager(self.runtime_dir, config_path=self.config_path) as mgr:
                fn(mgr)
            return
        except Exception as e:
            code, message = status_of(e)
            if code == grpc.StatusCode.INTERNAL:
                log.exception("%s failed", name)
            else:
                log.info("%s: %s: %s", name, code.name, message)
        context.abort(code, message)

    def NodePublishVolume(
        self, request: csi.NodePublishVolumeRequest, context: grpc.ServicerContext
    ) -> csi.NodePublishVolumeResponse:
        from bpfman.manager import volumes

        def publish(mgr: Manager) -> None:
            volumes.check_volume_id(request.volume_id)
            volumes.check_target(request.target_path)
            if not request.HasField("volume_capability"):
                raise InputError("volume_capability missing")
            group = mount_group(request.volume_capability)
            req = volumes.parse_attributes(dict(request.volume_context))
            volumes.publish(
                mgr,
                request.volume_id,
                request.target_path,
                req,
                group=group,
                readonly=request.readonly,
            )

        self._call("NodePublishVolume", context, publish)
        return csi.NodePublishVolumeResponse()

    def NodeUnpublishVolume(
        self, request: csi.NodeUnpublishVolumeRequest, context: grpc.ServicerContext
    ) -> csi.NodeUnpublishVolumeResponse:
        from bpfman.manager import volumes

        def unpublish(mgr: Manager) -> None:
            volumes.unpublish(mgr, request.volume_id, request.target_path)

        self._call("NodeUnpublishVolume", context, unpublish)
        return csi.NodeUnpublishVolumeResponse()

    def NodeGetCapabilities(
        self, request: csi.NodeGetCapabilitiesRequest, context: grpc.ServicerContext
    ) -> csi.NodeGetCapabilitiesResponse:
        rpc = csi.NodeServiceCapability.RPC(type=csi.NodeServiceCapability.RPC.VOLUME_MOUNT_GROUP)
        return csi.NodeGetCapabilitiesResponse(capabilities=[csi.NodeServiceCapability(rpc=rpc)])

    def NodeGetInfo(
        self, request: csi.NodeGetInfoRequest, context: grpc.ServicerContext
    ) -> csi.NodeGetInfoResponse:
        return csi.NodeGetInfoResponse(node_id=node_id())


def add_to_server(runtime_dir: str | None, config_path: str | None, server: grpc.Server) -> None:
    csi_grpc.add_IdentityServicer_to_server(IdentityServicer(), server)  # type: ignore[no-untyped-call]
    node = NodeServicer(runtime_dir, config_path)
    csi_grpc.add_NodeServicer_to_server(node, server)  # type: ignore[no-untyped-call]
