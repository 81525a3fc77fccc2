"""Writes tests/data/store-34a0bcc.sql and store-34a0bcc.json with the code of commit 34a0bcc.

The SQL is a database as 34a0bcc's ``Store`` wrote it (schema 4): one program and link
of each attach kind, with the link parameters 34a0bcc's ``attacher`` and ``dispatchers``
stored (dispatcher members: two tc links on one hook, one on the other direction, and
two xdp links). The JSON is what 34a0bcc's code showed of them: ``get link -o json``'s
LinkInfo, ``list links``' rows, ``get program``'s attachments and each ProgramInfo (the
gRPC Get/List message). tests/test_manager_unit.py migrates the SQL and checks today's
code shows the same. Run from the repository root::

    mkdir /tmp/old && git archive 34a0bcc src | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old/src .venv/bin/python tests/data/make_store_34a0bcc.py
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import tempfile
from typing import Any

from bpfman.manager import readonly, store, views
from bpfman.manager.models import BpfmanType, ProgramRecord

K = BpfmanType
ETH = {"netns": None, "netns_ino": 4026531840}
NS = {"netns": "/run/netns/blue", "netns_ino": 4026532000}
# (program id, name, kind, retprobe, attach_fn, link params) as 34a0bcc's attach stored them
LINKS: list[tuple[int, str, BpfmanType, bool, str | None, dict[str, Any]]] = [
    (101, "tp", K.TRACEPOINT, False, None, {"tracepoint": "syscalls/sys_enter_kill"}),
    (102, "kp", K.KPROBE, False, None,
     {"fn_name": "do_unlinkat", "offset": 16, "container_pid": None}),
    (103, "krp", K.KPROBE, True, None,
     {"fn_name": "do_unlinkat", "offset": 0, "container_pid": 1}),
    (104, "up", K.UPROBE, False, None,
     {"target": "libc", "fn_name": "malloc", "offset": 0, "pid": None, "container_pid": None}),
    (105, "urp", K.UPROBE, True, None,
     {"target": "/usr/bin/bash", "fn_name": None, "offset": 4096, "pid": 7,
      "container_pid": None}),
    (106, "fe", K.FENTRY, False, "do_unlinkat", {"fn_name": "do_unlinkat"}),
    (107, "fx", K.FEXIT, False, "do_unlinkat", {"fn_name": "do_unlinkat"}),
    # attached directly (no dispatcher): xdp, a tc filter, tcx
    (108, "xdp_direct", K.XDP, False, None,
     {"iface": "veth-a", "priority": 50, **ETH, "proceed_on": [2], "position": 0}),
    (109, "tc_direct", K.TC, False, None,
     {"iface": "veth-a", "priority": 50, **NS, "direction": "ingress", "proceed_on": [3],
      "ifindex": 5, "tc_priority": 49152, "tc_handle": 1, "tc_qdisc_created": True,
      "position": 0}),
    (110, "tcx", K.TCX, False, None,
     {"iface": "veth-a", "priority": 10, **ETH, "direction": "egress", "position": 0}),
    # dispatcher members: xdp on veth-b (ifindex 6), tc ingress (2 links) and egress on veth-c
    (111, "xdp_m1", K.XDP, False, None,
     {"iface": "veth-b", "priority": 10, **ETH, "proceed_on": [2], "ifindex": 6,
      "position": 0, "dispatcher_id": 900, "xdp_mode": "skb"}),
    (112, "xdp_m2", K.XDP, False, None,
     {"iface": "veth-b", "priority": 20, **ETH, "proceed_on": [1, 2], "ifindex": 6,
      "position": 1, "dispatcher_id": 900, "xdp_mode": "skb"}),
    (113, "tc_m1", K.TC, False, None,
     {"iface": "veth-c", "priority": 10, **ETH, "direction": "ingress", "proceed_on": [3],
      "ifindex": 7, "position": 1, "dispatcher_id": 901, "dispatcher_handle": 2,
      "tc_qdisc_created": True}),
    (114, "tc_m2", K.TC, False, None,
     {"iface": "veth-c", "priority": 5, **ETH, "direction": "ingress", "proceed_on": [3, 4],
      "ifindex": 7, "position": 0, "dispatcher_id": 901, "dispatcher_handle": 2,
      "tc_qdisc_created": True}),
    (115, "tc_m3", K.TC, False, None,
     {"iface": "veth-c", "priority": 10, **ETH, "direction": "egress", "proceed_on": [3],
      "ifindex": 7, "position": 0, "dispatcher_id": 902, "dispatcher_handle": 3,
      "tc_qdisc_created": False}),
]  # fmt: skip


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "db", "bpfman.db")
    st: Any = store.Store(path)  # 34a0bcc's: its add_link takes the params dict
    assert st.schema_version == 4, "run with 34a0bcc's src first on PYTHONPATH"
    with st.transaction():
        for prog_id, name, kind, retprobe, attach_fn, params in LINKS:
            st.add_program(
                ProgramRecord(
                    prog_id, name, kind, retprobe, "/tmp/x.bpf.o", None, None, attach_fn,
                    None, f"/run/bpfman/fs/maps/{prog_id}", "0123456789abcdef",
                    metadata={"bpfman_application": "app"} if prog_id % 2 else {},
                    given_path="x.bpf.o",
                )
            )  # fmt: skip
            pin = f"/run/bpfman/fs/links/{prog_id - 100}"
            kernel_pin = params.get("iface") is None or params.get("direction") == "egress"
            st.add_link(
                prog_id, kind, 1000 + prog_id, pin if kernel_pin else None, params,
                {"owner": name},
            )  # fmt: skip
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    shown: dict[str, Any] = {"links": {}, "attachments": {}, "programs": {}}
    for link in st.links():
        rec = st.program(link.program_id)
        shown["links"][link.id] = views.link_info_of(link, rec)
        found = readonly.link_result(db, link.id)
        assert found is not None and found[0] == shown["links"][link.id]
        shown["attachments"][link.program_id] = readonly.link_attachments(db, link.program_id)
        shown["programs"][link.program_id] = readonly.program_message(
            rec.id, rec.name, rec.shown_path, rec.image_url, rec.pull_policy,
            rec.map_owner_id, rec.map_pin_path, rec.globals, rec.metadata,
            [x.id for x in st.links(rec.id)], st.map_users(rec.map_pin_path),
        )  # fmt: skip
    shown["list_links"] = readonly.links_table(db, None)
    with open(os.path.join(here, "store-34a0bcc.sql"), "w") as f:
        f.write(f"-- written by tests/data/{os.path.basename(__file__)} with 34a0bcc's code\n")
        f.write("PRAGMA user_version=4;\n")
        for line in db.iterdump():
            f.write(line + "\n")
    with open(os.path.join(here, "store-34a0bcc.json"), "w") as f:
        json.dump(shown, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", here, file=sys.stderr)


if __name__ == "__main__":
    main()
