"""ELF section vocabulary shared by the attach modules (pure data, no kernel I/O)."""

from __future__ import annotations

from bpfman.kinds import AttachType

# libbpf's section suffixes (``cgroup/<name>``, ``cgroup_skb/<name>``) -> attach type
CGROUP_SECTIONS: dict[str, AttachType] = {
    "ingress": AttachType.CGROUP_INET_INGRESS,
    "egress": AttachType.CGROUP_INET_EGRESS,
    "sock_create": AttachType.CGROUP_INET_SOCK_CREATE,
    "sock": AttachType.CGROUP_INET_SOCK_CREATE,
    "sock_release": AttachType.CGROUP_INET_SOCK_RELEASE,
    "sock_ops": AttachType.CGROUP_SOCK_OPS,
    "post_bind4": AttachType.CGROUP_INET4_POST_BIND,
    "post_bind6": AttachType.CGROUP_INET6_POST_BIND,
    "bind4": AttachType.CGROUP_INET4_BIND,
    "bind6": AttachType.CGROUP_INET6_BIND,
    "connect4": AttachType.CGROUP_INET4_CONNECT,
    "connect6": AttachType.CGROUP_INET6_CONNECT,
    "sendmsg4": AttachType.CGROUP_UDP4_SENDMSG,
    "sendmsg6": AttachType.CGROUP_UDP6_SENDMSG,
    "recvmsg4": AttachType.CGROUP_UDP4_RECVMSG,
    "recvmsg6": AttachType.CGROUP_UDP6_RECVMSG,
    "getpeername4": AttachType.CGROUP_INET4_GETPEERNAME,
    "getpeername6": AttachType.CGROUP_INET6_GETPEERNAME,
    "getsockname4": AttachType.CGROUP_INET4_GETSOCKNAME,
    "getsockname6": AttachType.CGROUP_INET6_GETSOCKNAME,
    "sysctl": AttachType.CGROUP_SYSCTL,
    "getsockopt": AttachType.CGROUP_GETSOCKOPT,
    "setsockopt": AttachType.CGROUP_SETSOCKOPT,
    "dev": AttachType.CGROUP_DEVICE,
}
