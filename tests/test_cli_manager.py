"""The manager through the `bpfman` CLI: load, attach, list/get, detach, unload, errors."""

from __future__ import annotations

import os


def pid_hex() -> str:
    return os.getpid().to_bytes(4, "little").hex()


def test_tracepoint_lifecycle(cli, bpf_obj) -> None:
    loaded = cli(
        "load", "file", "--path", bpf_obj("basic"),
        "--programs", "tracepoint:count_kill",
        "-g", f"target_pid={pid_hex()}", "-m", "owner=tests", "-a", "myapp", "-o", "json",
    ).json()  # fmt: skip
    assert len(loaded) == 1
    info, kernel = loaded[0]["info"], loaded[0]["kernel_info"]
    prog_id = kernel["id"]
    assert info["name"] == "count_kill" and kernel["name"] == "count_kill"
    assert info["metadata"] == {"owner": "tests", "bpfman_application": "myapp"}
    assert info["bytecode"] == {"file": os.path.abspath(bpf_obj("basic"))}
    assert info["map_pin_path"] == f"{cli.fs}/maps/{prog_id}"
    assert os.path.exists(f"{cli.fs}/prog_{prog_id}")
    assert os.path.exists(f"{cli.fs}/maps/{prog_id}/counts")

    attached = cli(
        "attach", str(prog_id), "tracepoint", "-t", "syscalls/sys_enter_kill", "-o", "json"
    ).json()
    link_id = attached["link_id"]
    assert attached["attach"] == {
        "tracepoint_attach_info": {  # the link carries its program's application (upstream)
            "tracepoint": "syscalls/sys_enter_kill", "metadata": {"bpfman_application": "myapp"}
        }
    }
    for _ in range(4):
        os.kill(os.getpid(), 0)
    assert cli.counter(prog_id, 0, "counts") == 4  # the global filtered on our pid

    listed = cli("list", "programs", "-o", "json").json()
    assert [r["kernel_info"]["id"] for r in listed] == [prog_id]
    assert listed[0]["info"]["links"] == [link_id]
    text = cli("list", "programs").out
    assert "myapp" in text and "tracepoint" in text and f"(1) {link_id}" in text
    links_text = cli("list", "links").out
    assert "syscalls/sys_enter_kill" in links_text
    got = cli("get", "program", str(prog_id), "-o", "json").json()
    assert set(got) == {"info", "kernel_info"} and got["kernel_info"]["id"] == prog_id
    assert got["info"]["global_data"] == {"target_pid": __import__("base64").b64encode(
        bytes.fromhex(pid_hex())).decode()}  # fmt: skip
    text = cli("get", "program", str(prog_id)).out
    assert "Bpfman State" in text and "Kernel State" in text
    assert f" Global:        target_pid={pid_hex().upper()}\n" in text  # upper-case, no 0x
    link_text = cli("get", "link", str(link_id)).out
    assert "Tracepoint:" in link_text and "syscalls/sys_enter_kill" in link_text

    cli("detach", str(link_id))
    os.kill(os.getpid(), 0)
    assert cli.counter(prog_id, 0, "counts") == 4
    assert cli.db_rows()["links"] == 0
    cli("unload", str(prog_id))
    assert cli.pins() == []
    assert cli.db_rows() == {
        "programs": 0, "links": 0, "program_metadata": 0, "program_globals": 0
    }  # fmt: skip
    assert cli("doctor").rc == 0


def test_unload_detaches_links_first(cli, bpf_obj) -> None:
    loaded = cli(
        "load", "file", "-p", bpf_obj("basic"),
        "--programs", "tracepoint:count_kill tracepoint:count_getppid", "-o", "json",
    ).json()  # fmt: skip
    ids = [r["kernel_info"]["id"] for r in loaded]
    # one object: shared kernel maps, yet each program its own map dir (upstream 0.6)
    assert [r["info"]["map_pin_path"] for r in loaded] == [f"{cli.fs}/maps/{i}" for i in ids]
    assert "map_owner_id" not in loaded[1]["info"]
    for prog_id, tp in zip(ids, ["sys_enter_kill", "sys_enter_getppid"], strict=True):
        cli("attach", str(prog_id), "tracepoint", "-t", f"syscalls/{tp}")
    r = cli("attach", str(ids[1]), "tracepoint", "-t", "syscalls/sys_enter_getppid", rc=1)
    assert r.err.strip() == (
        "Error: cannot attach count_getppid to tracepoint syscalls/sys_enter_getppid:"
        " it is already attached there"
    )
    assert len(cli("list", "links", "-o", "json").json()) == 2  # the refused one left nothing
    cli("unload", str(ids[0]))  # any order
    cli("unload", str(ids[1]))
    assert cli.pins() == []


def test_map_owner_sharing(cli, bpf_obj) -> None:
    owner = cli(
        "load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_kill",
        "-g", f"target_pid={pid_hex()}", "-o", "json",
    ).json()[0]["kernel_info"]["id"]  # fmt: skip
    user = cli(
        "load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_getppid",
        "-g", f"target_pid={pid_hex()}", "--map-owner-id", str(owner), "-o", "json",
    ).json()[0]  # fmt: skip
    user_id = user["kernel_info"]["id"]
    assert user["info"]["map_owner_id"] == owner
    assert user["info"]["map_pin_path"] == f"{cli.fs}/maps/{owner}"
    assert not os.path.exists(f"{cli.fs}/maps/{user_id}")
    got = cli("get", "program", str(owner), "-o", "json").json()
    assert got["info"]["map_used_by"] == [str(owner), str(user_id)]
    cli("attach", str(user_id), "tracepoint", "-t", "syscalls/sys_enter_getppid")
    os.getppid()
    os.getppid()
    assert cli.counter(owner, 2, "counts") == 2  # the user's program wrote the owner's map
    cli("unload", str(owner))  # the owner may go first: its map dir stays for the user
    assert os.path.exists(f"{cli.fs}/maps/{owner}/counts")
    got = cli("get", "program", str(user_id), "-o", "json").json()
    assert got["info"]["map_used_by"] == [str(user_id)]
    cli("unload", str(user_id))
    assert not os.path.exists(f"{cli.fs}/maps/{owner}")
    assert cli.pins() == []


def test_metadata_selectors_and_filters(cli, bpf_obj) -> None:
    a = cli(
        "load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_kill",
        "-m", "team=a,tier=1", "-a", "app1", "-o", "json",
    ).json()[0]["kernel_info"]["id"]  # fmt: skip
    b = cli(
        "load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_getppid",
        "-m", "team=b", "-m", "tier=1", "-o", "json",
    ).json()[0]["kernel_info"]["id"]  # fmt: skip

    def ids(*args: str) -> list[int]:
        return [r["kernel_info"]["id"] for r in cli("list", "programs", *args, "-o", "json").json()]

    assert ids() == sorted([a, b])
    assert ids("-m", "tier=1") == sorted([a, b])
    assert ids("-m", "team=a", "-m", "tier=1") == [a]
    assert ids("-m", "team=c") == []
    assert ids("--application", "app1") == [a]
    assert ids("--program-type", "tracepoint") == sorted([a, b])
    assert ids("--program-type", "xdp") == []
    everything = ids("--all")
    assert {a, b} <= set(everything) and len(everything) >= 2
    assert any("info" not in r for r in cli("list", "programs", "--all", "-o", "json").json()) or (
        len(everything) == 2
    )
    cli("unload", str(a))
    cli("unload", str(b))


def test_bad_input(cli, bpf_obj, tmp_path) -> None:
    obj = bpf_obj("basic")
    # every failed operation exits 1 (bad values too, as upstream); 2 is click's syntax errors
    cases = [
        (["load", "file", "-p", str(tmp_path / "nope.o"), "--programs", "tracepoint:x"], 1,
         "no such file"),
        (["load", "file", "-p", obj, "--programs", "socket:count_kill"], 1, "unknown type"),
        (["load", "file", "-p", obj, "--programs", "tracepoint"], 1, "TYPE:NAME"),
        (["load", "file", "-p", obj, "--programs", "tracepoint:nope"], 1,
         "no program named 'nope'"),
        (["load", "file", "-p", obj, "--programs", "fentry:count_kill"], 1,
         "needs the kernel function"),
        (["load", "file", "-p", obj, "--programs", "xdp:count_kill"], 1,
         "is a tracepoint program"),
        (["load", "file", "-p", obj, "--programs", "tracepoint:count_kill", "-g", "target_pid=123"],
         1, "odd number"),
        (["load", "file", "-p", obj, "--programs", "tracepoint:count_kill", "-g", "nope=00"], 1,
         "no such variable"),
        (["load", "file", "-p", obj, "--programs", "tracepoint:count_kill", "-g", "target_pid=00"],
         1, "is 1 bytes, expected 4"),
        (["load", "file", "-p", obj, "--programs", "tracepoint:count_kill", "-m", "novalue"], 1,
         "KEY=VALUE"),
        (["load", "file", "-p", obj, "--programs", "tracepoint:count_kill",
          "--map-owner-id", "999999"], 1, "no such bpfman program"),
        (["attach", "999999", "tracepoint", "-t", "syscalls/sys_enter_kill"], 1,
         "no program with id 999999"),
        (["detach", "424242"], 1, "no link with id 424242"),
        (["unload", "999999"], 1, "no program with id 999999"),
        (["get", "link", "424242"], 1, "no link with id 424242"),
    ]  # fmt: skip
    for args, rc, message in cases:
        r = cli(*args, rc=rc)
        assert message in r.err, (args, r.err)
        assert len(r.err.strip().splitlines()) == 1, r.err
    prog_id = cli(
        "load", "file", "-p", obj, "--programs", "tracepoint:count_kill", "-o", "json"
    ).json()[0]["kernel_info"]["id"]
    for args, rc, message in [
        (["tracepoint", "-t", "sys_enter_kill"], 1, "exactly one '/'"),
        (["tracepoint", "-t", "syscalls/nope"], 1, "no tracepoint syscalls/nope"),
        (["xdp", "-i", "lo", "-p", "10"], 1, "loaded as tracepoint"),
        (["uprobe", "-t", "/bin/true"], 1, "loaded as tracepoint"),
    ]:
        r = cli("attach", str(prog_id), *args, rc=rc)
        assert message in r.err, (args, r.err)
    cli("unload", str(prog_id))
    assert cli.db_rows()["programs"] == 0
    assert cli.pins() == []


def test_lock_held_too_long(cli, bpf_obj) -> None:
    from bpfman.manager.lock import WriterLock

    cli("list", "programs")  # creates the runtime dir
    with WriterLock(f"{cli.runtime}/.lock"):
        env = dict(cli.env, BPFMAN_LOCK_TIMEOUT="0.5")
        r = cli("load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_kill",
                env=env, rc=1)  # fmt: skip
    assert f"another bpfman holds the lock (pid {os.getpid()})" in r.err
    assert len(r.err.strip().splitlines()) == 1
    assert cli.db_rows()["programs"] == 0 and cli.pins() == []
