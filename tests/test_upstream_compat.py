"""Drop-in for upstream bpfman: its own example objects and documented command lines.

The objects are upstream bpfman v0.6.0's example and integration-test programs,
compiled unmodified (``tests/bpf/upstream/``); the command lines are those of
upstream's CLI guide (docs/getting-started/cli-guide.md) and integration tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import bpfman
from bpfman import elf, features
from bpfman.manager.store import Store
from support.cli import BPFMAN
from support.procs import mapped_libc
from support.registry import LocalRegistry

UPSTREAM = Path(__file__).resolve().parent.parent / "build" / "tests" / "upstream"
EXAMPLES = ["xdp_counter", "tc_counter", "tcx_counter", "tracepoint_counter", "uprobe_counter",
            "uretprobe_counter", "kprobe_counter"]  # fmt: skip


def upstream(name: str) -> str:
    """Path of an upstream object: ``upstream("xdp_counter")``, ``upstream("integration/x")``."""
    path = UPSTREAM / (f"{name}.bpf.o" if name.startswith("integration/") else f"{name}.o")
    assert path.exists(), f"{path} was not built"
    return str(path)


def sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------- 1. static entry functions


STATIC = {"tracepoint_counter": ["tracepoint_kill_recorder"], "uprobe_counter": ["uprobe_counter"],
          "uretprobe_counter": ["uretprobe_counter"], "kprobe_counter": ["kprobe_counter"],
          "go-app-counter/app_counter": ["kprobe_counter", "tracepoint_kill_recorder",
                                         "uprobe_counter"]}  # fmt: skip


@pytest.mark.parametrize("name", sorted(STATIC))
def test_static_programs_open_file_untouched(name: str) -> None:
    path = upstream(name)
    before = sha256(path)
    data = Path(path).read_bytes()
    assert sorted(n for _, n in elf.ElfFile(data).static_programs()) == STATIC[name]
    with bpfman.open(path) as spec:
        assert set(STATIC[name]) <= set(spec.programs)
        assert spec.name == os.path.basename(path).split(".")[0][:15]  # as open_file names it
    assert sha256(path) == before


def test_globalize_changes_only_the_binding() -> None:
    data = Path(upstream("go-app-counter/app_counter")).read_bytes()
    patched = elf.globalize_static_programs(data)
    assert patched is not None and len(patched) == len(data)
    diff = [i for i in range(len(data)) if data[i] != patched[i]]
    found = list(elf.ElfFile(data).static_programs())
    assert sorted(at for at, _ in found) == diff  # one st_info byte per static program
    assert {n for _, n in found} == {"kprobe_counter", "tracepoint_kill_recorder", "uprobe_counter"}
    assert not list(elf.ElfFile(patched).static_programs())
    assert elf.globalize_static_programs(patched) is None  # nothing left to do
    assert elf.globalize_static_programs(b"\x7fELF") is None  # truncated: libbpf reports it


def test_static_program_loads_with_the_library() -> None:
    with bpfman.open(upstream("tracepoint_counter")) as spec:
        spec.maps["tracepoint_stats_map"].pin_path = None  # LIBBPF_PIN_BY_NAME: not /sys/fs/bpf
        obj = spec.load()
    with obj:
        prog = obj.programs["tracepoint_kill_recorder"]
        assert prog.info().name == "tracepoint_kill"  # the kernel's 15 characters
        assert prog.type == bpfman.ProgramType.TRACEPOINT
        assert "tracepoint_stats_map" in obj.maps


def percpu_sum(path: str) -> int:
    """Sum over the CPUs of the first u64 of entry 0 of the per-CPU array pinned at *path*."""
    with bpfman.Map.from_pin(path) as m:
        return sum(int.from_bytes(bytes(v)[:8], "little") for v in m[0])


def send_sigusr1() -> None:
    child = subprocess.Popen(["sleep", "30"])
    os.kill(child.pid, signal.SIGUSR1)
    child.wait()


def test_go_tracepoint_counter(cli) -> None:
    # upstream's go-tracepoint-counter: a static program, a LIBBPF_PIN_BY_NAME map
    out = cli("load", "file", "--path", upstream("tracepoint_counter"),
              "--programs", "tracepoint:tracepoint_kill_recorder",
              "--application", "go-tracepoint-counter").out  # fmt: skip
    found = re.search(r"Program ID:\s+(\d+)", out)
    assert found, out
    prog_id = int(found.group(1))
    cli("attach", str(prog_id), "tracepoint", "--tracepoint", "syscalls/sys_enter_kill")
    stats = f"{cli.fs}/maps/{prog_id}/tracepoint_stats_map"
    before = percpu_sum(stats)
    send_sigusr1()
    assert percpu_sum(stats) >= before + 1
    assert not os.path.exists("/sys/fs/bpf/tracepoint_stats_map")  # pinned by bpfman, not libbpf
    cli("unload", str(prog_id))
    assert cli.pins() == []



def test_path_shown_as_given(cli) -> None:
    # upstream's tables show the bytecode path as the user typed it (here relative to the
    # command's working directory); the absolute path, from which dispatchers reload the
    # object, is kept beside it
    obj = Path(upstream("tracepoint_counter"))
    rel = os.path.join(obj.parent.name, obj.name)
    p = subprocess.run(
        [BPFMAN, "--runtime-dir", cli.runtime, "load", "file", "--path", rel,
         "--programs", "tracepoint:tracepoint_kill_recorder"],
        cwd=obj.parent.parent, capture_output=True, text=True, env=cli.env, timeout=60,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    found = re.search(r"Program ID:\s+(\d+)", p.stdout)
    assert found, p.stdout
    prog_id = found.group(1)
    shown = re.compile(rf"^ Path:\s+{re.escape(rel)}$", re.M)
    assert shown.search(p.stdout), p.stdout
    assert shown.search(cli("get", "program", prog_id).out)  # the read fast path
    assert shown.search(cli("--log", "error", "get", "program", prog_id).out)  # click's path
    info = cli("get", "program", prog_id, "-o", "json").json()
    assert info["info"]["bytecode"]["file"] == rel
    rec = Store(os.path.join(cli.runtime, "db", "bpfman.db")).program(int(prog_id))
    assert rec is not None and rec.path == str(obj) and rec.given_path == rel
    cli("unload", prog_id)

# ---------------------------------------------------------------- 2. upstream's label words

APP_LABELS = {"kprobe_counter": "probe", "stats": "tc", "tcx_stats": "tc",
              "tracepoint_kill_recorder": "tracepoint", "uprobe_counter": "probe",
              "xdp_stats": "xdp"}  # fmt: skip


@pytest.fixture(scope="module")
def registry() -> Iterator[LocalRegistry]:
    reg = LocalRegistry()
    yield reg
    reg.close()


def test_generate_build_args_writes_upstream_words(cli) -> None:
    out = cli("image", "generate-build-args", "-b", upstream("go-app-counter/app_counter")).out
    args = dict(line.split("=", 1) for line in out.splitlines())
    assert json.loads(args["PROGRAMS"]) == APP_LABELS
    assert json.loads(args["MAPS"])["xdp_stats_map"] == "per_cpu_array"
    out = cli("image", "generate-build-args", "-b", upstream("integration/fentry")).out
    assert 'PROGRAMS={"test_fentry":"tracing","test_fexit":"tracing"}' in out.splitlines()


def test_label_words_fit_bpfman_types() -> None:
    from bpfman.images import InputError
    from bpfman.images import labels as lb
    from bpfman.manager.parse import program_requests

    upstream_words = lb.Labels({"k": "probe", "u": "probe", "t": "tc", "f": "tracing"})
    for fits in ("kretprobe:k uprobe:u tcx:t fexit:f:do_unlinkat",
                 "kprobe:k uretprobe:u tc:t fentry:f:do_unlinkat"):  # fmt: skip
        lb.check_requests(upstream_words, program_requests([fits]), "img")
    for wrong in ("xdp:k", "tracepoint:t", "kprobe:f"):
        with pytest.raises(InputError, match=r"program . is a .* program in image img"):
            lb.check_requests(upstream_words, program_requests([wrong]), "img")
    old_words = lb.Labels({"k": "kretprobe", "t": "tcx"})  # what pybpfman wrote before
    lb.check_requests(old_words, program_requests(["kprobe:k tc:t"]), "img")


def test_load_image_with_upstream_labels(cli, registry) -> None:
    from bpfman.images import build

    # labelled as upstream's quay.io/bpfman-bytecode/go-app-counter is
    url = registry.url("bpfman-bytecode/go-app-counter:latest")
    labels = {"io.ebpf.programs": json.dumps(APP_LABELS),
              "io.ebpf.maps": json.dumps({"xdp_stats_map": "per_cpu_array"})}  # fmt: skip
    obj = Path(upstream("go-app-counter/app_counter")).read_bytes()
    build.push(url, [build.make_image("linux/amd64", "bpf_x86_bpfel.o", obj, labels)],
               multi_arch=False)  # fmt: skip
    loaded = cli("load", "image", "--image-url", url, "--programs", "uprobe:uprobe_counter",
                 "tcx:tcx_stats", "tracepoint:tracepoint_kill_recorder", "-o", "json",
                 ).json()  # fmt: skip
    assert [p["info"]["name"] for p in loaded] == [
        "uprobe_counter", "tcx_stats", "tracepoint_kill_recorder"]  # fmt: skip
    r = cli("load", "image", "--image-url", url, "--programs", "xdp:uprobe_counter", rc=1)
    for p in sorted(loaded, key=lambda p: p["info"].get("map_owner_id") is None):
        cli("unload", str(p["kernel_info"]["id"]))
    assert r.err.endswith(f"program uprobe_counter is a probe program in image {url}, not xdp\n")


def test_image_build_writes_upstream_words(cli, registry) -> None:
    url = registry.url("bpfman-bytecode/go-app-counter:built")
    built = cli("image", "build", "-t", url, "-b", upstream("go-app-counter/app_counter"),
                "-o", "json").json()  # fmt: skip
    assert built["programs"] == APP_LABELS
    out = cli("image", "pull", "--image-url", url).out.splitlines()
    assert out[0] == "Successfully downloaded bytecode"  # upstream's success line, first
    pulled = cli("image", "pull", "-i", url, "-o", "json").json()
    assert pulled["programs"] == APP_LABELS  # the labels as the registry holds them
    # kretprobe fits probe, tc fits tc, xdp fits xdp
    loaded = cli("load", "image", "-i", url, "--programs", "kretprobe:kprobe_counter", "tc:stats",
                 "xdp:xdp_stats", "-o", "json").json()  # fmt: skip
    assert [(p["info"]["name"], p["kernel_info"]["program_type"]) for p in loaded] == [
        ("kprobe_counter", 2), ("stats", 3), ("xdp_stats", 6)]  # fmt: skip
    for p in loaded:
        cli("unload", str(p["kernel_info"]["id"]))
    assert cli.pins() == []


# ---------------------------------------------------------------- 3. CLI surface


def ids(result) -> list[int]:
    return [p["kernel_info"]["id"] for p in result.json()]


def table_ids(text: str) -> list[int]:
    """First column of a table's rows (the header left out)."""
    return [int(line.split()[0]) for line in text.splitlines()[1:]]


def test_several_values_per_flag_and_list_filters(cli, bpf_obj) -> None:
    # the CLI guide's global variables example, on the integration test's uprobe object
    up, uret = ids(cli("load", "file", "-p", upstream("integration/uprobe"),
                       "--programs", "uprobe:my_uprobe", "uretprobe:my_uretprobe",
                       "-g", "GLOBAL_u8=01", "GLOBAL_u32=0A0B0C0D", "-m", "owner=acme", "tier=1",
                       "--application", "UprobeApp", "-o", "json"))  # fmt: skip
    got = cli("get", "program", str(up), "-o", "json").json()["info"]
    assert got["global_data"] == {"GLOBAL_u8": "AQ==", "GLOBAL_u32": "CgsMDQ=="}
    assert got["metadata"] == {"owner": "acme", "tier": "1", "bpfman_application": "UprobeApp"}
    # the repeated-flag form is the same
    again = ids(cli("load", "file", "-p", upstream("integration/uprobe"),
                    "--programs", "uprobe:my_uprobe", "--programs", "uretprobe:my_uretprobe",
                    "-g", "GLOBAL_u8=01", "-g", "GLOBAL_u32=0A0B0C0D", "-o", "json"))  # fmt: skip
    assert len(again) == 2
    for prog in again:
        assert cli("get", "program", str(prog), "-o", "json").json()["info"]["global_data"] == (
            got["global_data"])  # fmt: skip
        cli("unload", str(prog))
    (tp,) = ids(cli("load", "file", "-p", upstream("integration/tp_openat"),
                    "--programs", "tracepoint:enter_openat", "-m", "owner=acme", "-m", "tier=2",
                    "-o", "json"))  # fmt: skip
    # list program(s): -p with upstream's kernel-type words (probe: k/uprobes) or bpfman's
    assert table_ids(cli("list", "programs", "-p", "probe").out) == [up, uret]
    assert table_ids(cli("list", "program", "--program-type", "uretprobe").out) == [uret]
    assert table_ids(cli("list", "programs", "-p", "tracepoint").out) == [tp]
    assert table_ids(cli("list", "programs", "-m", "owner=acme", "tier=2").out) == [tp]
    assert table_ids(cli("list", "program", "--metadata-selector", "tier=1").out) == [up, uret]
    assert table_ids(cli("list", "programs", "--application", "UprobeApp").out) == [up, uret]
    with bpfman.load(bpf_obj("basic")) as obj:  # a program that is not bpfman's: only -a lists it
        foreign = obj.programs["count_getppid"].id
        everything = table_ids(cli("list", "programs", "-a").out)
        assert {up, uret, tp, foreign} <= set(everything)
        assert foreign not in table_ids(cli("list", "programs").out)
    assert cli("list", "programs", "--all", "-p", "probe", "-o", "json").json()
    r = cli("list", "programs", "-p", "bogus", rc=1)
    assert "--program-type 'bogus': unknown type" in r.err
    # list link(s) takes the same filters
    l1 = cli("attach", str(up), "uprobe", "-t", "libc", "-f", "malloc", "-m", "k=v", "k2=v2",
             "--output", "json").json()["link_id"]  # fmt: skip
    l2 = cli("attach", str(tp), "tracepoint", "--tracepoint", "syscalls/sys_enter_openat",
             "-o", "json").json()["link_id"]  # fmt: skip
    libc = mapped_libc()  # the uretprobe by the library's full path: shown as given
    l3 = cli("attach", str(uret), "uprobe", "-t", libc, "-f", "malloc",
             "--output", "json").json()["link_id"]  # fmt: skip
    links = cli("list", "links", "-o", "json").json()
    assert [x["link_id"] for x in links] == [l1, l2, l3]
    assert links[0]["attach"]["uprobe_attach_info"]["metadata"]["k2"] == "v2"
    text = cli("list", "links").out.splitlines()
    assert text[3].split()[1:] == [str(l3), "UprobeApp", "uretprobe", "my_uretprobe", libc,
                                   "malloc"]  # fmt: skip
    assert rows(cli("get", "program", str(uret)).out)["Links"] == [f"{l3} ({libc} malloc)"]
    assert rows(cli("get", "link", str(l3)).out)["Target"] == [libc]

    def link_ids(*args: str) -> list[int]:
        return [int(line.split()[1]) for line in cli("list", *args).out.splitlines()[1:]]

    assert link_ids("link", "-p", "probe") == [l1, l3]
    assert link_ids("links", "--program-type", "tracepoint") == [l2]
    assert link_ids("links", "--application", "UprobeApp") == [l1, l3]
    assert link_ids("links", "-m", "k=v", "k2=v2") == [l1]
    assert link_ids("links", "--metadata-selector", "k=v", "k2=v2") == [l1]
    assert link_ids("links", "-m", "owner=acme") == [l1, l2, l3]  # the program's metadata too
    assert link_ids("links", "--metadata-selector", "tier=1") == [l1, l3]
    assert link_ids("links", "-p", "xdp") == []
    for prog in (uret, up, tp):
        cli("unload", str(prog))


def test_exit_status(cli, tmp_path, bpf_obj) -> None:
    obj = upstream("integration/tp_openat")
    for args in (["load", "file", "-p", str(tmp_path / "missing.o"), "--programs", "tracepoint:x"],
                 ["load", "file", "-p", obj, "--programs", "tracepoint:not_there"],
                 ["load", "file", "-p", obj, "--programs", "xdp:enter_openat"],
                 ["load", "file", "-p", obj, "--programs", "tracepoint:enter_openat",
                  "-g", "nope=01"],
                 ["get", "program", "4000000000"]):  # fmt: skip
        r = cli(*args, rc=1)
        assert r.err.startswith("Error: ") and r.err.count("\n") == 1, r.err
    # a kernel refusal: the verifier rejects the program (EACCES from BPF_PROG_LOAD)
    r = cli("load", "file", "-p", bpf_obj("bad_verifier"), "--programs", "tracepoint:unchecked",
            rc=1)  # fmt: skip
    assert r.err.startswith("Error: ") and r.err.count("\n") == 1, r.err
    assert "rejected by the verifier" in r.err and cli.db_rows()["programs"] == 0
    for args in (["load", "file", "--programs", "tracepoint:x"],  # no --path
                 ["load", "file", "-p", obj],  # no --programs
                 ["list", "programs", "--bogus"],
                 ["attach", "notanumber", "tracepoint"]):  # fmt: skip
        cli(*args, rc=2)
    assert cli.pins() == []


# ---------------------------------------------------------------- 4. tables as upstream prints them

GO_APP = ["kprobe:kprobe_counter", "tracepoint:tracepoint_kill_recorder", "tc:stats",
          "tcx:tcx_stats", "uprobe:uprobe_counter", "xdp:xdp_stats"]  # fmt: skip


def rows(text: str, title: str = "") -> dict[str, list[str]]:
    """A ``get`` block as {label: [value per row]} (continuation rows join their label)."""
    out: dict[str, list[str]] = {}
    label = ""
    for line in text.splitlines():
        if not line.strip() or line.strip() in ("Bpfman State", "Kernel State"):
            continue
        head, sep, value = line.partition(":  ")
        if sep and not head.startswith("   "):
            label = head.strip()
            out[label] = [value.strip()]
        else:
            out[label].append(line.strip())
    return out


def test_go_app_counter_tables(cli, veth) -> None:
    # the CLI guide's "Loading Multiple Programs": the six programs of go-app-counter
    loaded = cli("load", "file", "--path", upstream("go-app-counter/app_counter"),
                 "--programs", *GO_APP, "--application", "go-app", "-o", "json").json()  # fmt: skip
    prog = {p["info"]["name"]: p["kernel_info"]["id"] for p in loaded}
    text = cli("list", "programs", "--application", "go-app").out.splitlines()
    assert text[0].split() == ["Program", "ID", "Application", "Type", "Function", "Name", "Links"]
    expected = {  # the kernel's 15-character function names, as upstream
        "kprobe_counter": ["go-app", "kprobe", "kprobe_counter"],
        "tracepoint_kill_recorder": ["go-app", "tracepoint", "tracepoint_kill"],
        "stats": ["go-app", "tc", "stats"], "tcx_stats": ["go-app", "tcx", "tcx_stats"],
        "uprobe_counter": ["go-app", "uprobe", "uprobe_counter"],
        "xdp_stats": ["go-app", "xdp", "xdp_stats"],
    }  # fmt: skip
    by_id = sorted((i, name) for name, i in prog.items())
    assert [line.split() for line in text[1:]] == [[str(i), *expected[n]] for i, n in by_id]
    # -p with upstream's kernel-type words: tc includes tcx, probe k- and uprobes
    for word, names in (("tc", ["stats", "tcx_stats"]), ("xdp", ["xdp_stats"]),
                        ("probe", ["kprobe_counter", "uprobe_counter"]),
                        ("tracepoint", ["tracepoint_kill_recorder"])):  # fmt: skip
        listed = table_ids(cli("list", "programs", "-p", word).out)
        assert listed == sorted(prog[n] for n in names), word
    tp = prog["tracepoint_kill_recorder"]
    l_tp = cli("attach", str(tp), "tracepoint", "--tracepoint", "syscalls/sys_enter_kill",
               "-o", "json").json()  # fmt: skip
    assert l_tp["attach"]["tracepoint_attach_info"]["metadata"] == {"bpfman_application": "go-app"}
    l_up = cli("attach", str(prog["uprobe_counter"]), "uprobe", "-t", "libc", "-f", "malloc",
               "--output", "json").json()  # fmt: skip
    l_tc = cli("attach", str(prog["stats"]), "tc", "-d", "ingress", "-i", veth.host, "-p", "40",
               "-o", "json").json()  # fmt: skip
    l_tcx = cli("attach", str(prog["tcx_stats"]), "tcx", "--direction", "ingress",
                "--iface", veth.host, "--priority", "22", "-o", "json").json()  # fmt: skip
    l_xdp = cli("attach", str(prog["xdp_stats"]), "xdp", "-i", veth.peer, "-p", "30",
                "--proceed-on", "drop", "pass", "dispatcher_return", "-n", veth.netns_path,
                "-o", "json").json()  # fmt: skip
    assert l_xdp["attach"]["xdp_attach_info"]["proceed_on"] == [1, 2, 31]

    out = cli("get", "program", str(tp)).out
    got = rows(out)  # a label of both blocks keeps the Kernel State's value
    assert " BPF Function:  tracepoint_kill_recorder\n" in out
    assert got["Links"] == [f"{l_tp['link_id']} (syscalls/sys_enter_kill)"]
    assert got["Kernel Type"] == ["tracepoint"] and got["BPF Function"] == ["tracepoint_kill"]
    assert got["GPL Compatible"] == ["true"] and got["JITted"] == ["true"]
    assert got["Metadata"] == ["bpfman_application=go-app"]
    kernel_types = {name: rows(cli("get", "program", str(i)).out)["Kernel Type"][0]
                    for name, i in prog.items()}  # fmt: skip
    assert kernel_types == {"kprobe_counter": "probe", "tracepoint_kill_recorder": "tracepoint",
                            "stats": "tc", "tcx_stats": "tc", "uprobe_counter": "probe",
                            "xdp_stats": "xdp"}  # fmt: skip
    libc = mapped_libc()
    l_up2 = cli("attach", str(prog["uprobe_counter"]), "uprobe", "-t", libc, "-f", "free",
                "--output", "json").json()  # fmt: skip
    assert rows(cli("get", "program", str(prog["uprobe_counter"])).out)["Links"] == [
        f"{l_up['link_id']} (libc malloc)", f"{l_up2['link_id']} ({libc} free)"]  # fmt: skip
    assert rows(cli("get", "program", str(prog["stats"])).out)["Links"] == [
        f"{l_tc['link_id']} ({veth.host} ingress pos-0)"]  # fmt: skip
    link = rows(cli("get", "link", str(l_xdp["link_id"])).out)
    assert link["Proceed On"] == ["drop, pass, dispatcher_return"]
    assert link["Network Namespace"] == [veth.netns_path]
    # list links: the application came with attach; -p tc includes tcx
    text = cli("list", "links", "-p", "tc").out.splitlines()
    assert [line.split()[1:] for line in text[1:]] == [
        [str(l_tc["link_id"]), "go-app", "tc", "stats", veth.host, "ingress", "pos-0"],
        [str(l_tcx["link_id"]), "go-app", "tcx", "tcx_stats", veth.host, "ingress", "pos-0"],
    ]
    assert len(cli("list", "links", "--application", "go-app").out.splitlines()) == 1 + 6
    for p in sorted(loaded, key=lambda p: p["info"].get("map_owner_id") is None):
        cli("unload", str(p["kernel_info"]["id"]))
    assert cli("list", "links").out.splitlines()[1:] == []


def test_globals_rows(cli) -> None:
    # the CLI guide's "Setting Global Variables" on tc_pass
    out = cli("load", "file", "-p", upstream("integration/tc_pass"), "--programs", "tc:pass",
              "-g", "GLOBAL_u8=01", "GLOBAL_u32=0A0B0C0D", "--application", "TcGlobal",
              ).out  # fmt: skip
    got = rows(out)
    assert sorted(got["Global"]) == ["GLOBAL_u32=0A0B0C0D", "GLOBAL_u8=01"]
    assert got["Metadata"] == ["bpfman_application=TcGlobal"]
    assert got["Kernel Type"] == ["tc"] and got["Links"] == ["None"]
    (prog_id,) = got["Program ID"]
    assert got["Maps Used By"] == [prog_id] and got["Map Owner ID"] == ["None"]
    cli("unload", prog_id)


# ---------------------------------------------------------------- 5. map ownership as upstream


def info(cli, prog_id: int) -> Any:
    return cli("get", "program", str(prog_id), "-o", "json").json()


def test_multi_program_load_own_map_dirs_any_unload_order(cli) -> None:
    loaded = cli("load", "file", "--path", upstream("go-app-counter/app_counter"),
                 "--programs", *GO_APP, "--application", "go-app", "-o", "json").json()  # fmt: skip
    ids = [p["kernel_info"]["id"] for p in loaded]
    shared = set.intersection(*(set(p["kernel_info"]["map_ids"]) for p in loaded))
    assert shared  # one object: the same kernel maps (.rodata/.bss) behind every program
    for p in loaded:
        i, got = p["kernel_info"]["id"], p["info"]
        assert got["map_pin_path"] == f"{cli.fs}/maps/{i}" and "map_owner_id" not in got
        assert got["map_used_by"] == [str(i)]
        assert os.path.exists(f"{cli.fs}/maps/{i}/xdp_stats_map")
    text = rows(cli("get", "program", str(ids[0])).out)
    assert text["Map Owner ID"] == ["None"] and text["Maps Used By"] == [str(ids[0])]
    for i in ids:  # in load order: the first is no owner of the others
        cli("unload", str(i))
        assert not os.path.exists(f"{cli.fs}/maps/{i}")
    assert cli.pins() == []


def test_map_owner_id_owner_unloads_first(cli) -> None:
    obj = upstream("tracepoint_counter")
    load = ["load", "file", "--path", obj, "--programs", "tracepoint:tracepoint_kill_recorder"]
    a = cli(*load, "-o", "json").json()[0]
    a_id = a["kernel_info"]["id"]
    b = cli(*load, "--map-owner-id", str(a_id), "-o", "json").json()[0]
    c = cli(*load, "--map-owner-id", str(a_id), "-o", "json").json()[0]
    b_id, c_id = b["kernel_info"]["id"], c["kernel_info"]["id"]
    owner_dir = f"{cli.fs}/maps/{a_id}"
    for p in (b, c):
        assert p["info"]["map_owner_id"] == a_id and p["info"]["map_pin_path"] == owner_dir
    with bpfman.Map.from_pin(f"{owner_dir}/tracepoint_stats_map") as m:
        stats_id = m.id
    assert stats_id in b["kernel_info"]["map_ids"] and stats_id in c["kernel_info"]["map_ids"]
    assert info(cli, a_id)["info"]["map_used_by"] == [str(a_id), str(b_id), str(c_id)]
    got = rows(cli("get", "program", str(b_id)).out)
    assert got["Map Owner ID"] == [str(a_id)]
    assert got["Maps Used By"] == [str(a_id), str(b_id), str(c_id)]  # one id per row

    cli("unload", str(a_id))  # the owner first
    assert os.path.exists(f"{owner_dir}/tracepoint_stats_map")  # still used by b and c
    assert info(cli, b_id)["info"]["map_used_by"] == [str(b_id), str(c_id)]
    assert info(cli, b_id)["info"]["map_owner_id"] == a_id
    assert cli("doctor").rc == 0
    cli("unload", str(b_id))
    assert info(cli, c_id)["info"]["map_used_by"] == [str(c_id)]
    cli("unload", str(c_id))  # the last user takes the directory along
    assert not os.path.exists(owner_dir)
    assert cli.pins() == []
    r = cli(*load, "--map-owner-id", str(a_id), rc=1)
    assert "no such bpfman program" in r.err


def test_store_migration_from_schema_2(tmp_path) -> None:
    """A database as the code at 4cc0667 wrote it (migrations 1-2, a --map-owner-id user)
    migrates: rows kept, the owner can go first, foreign keys still on."""
    import sqlite3

    from bpfman.manager.store import MIGRATIONS, Store

    path = tmp_path / "db" / "bpfman.db"
    path.parent.mkdir()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA foreign_keys=ON")
    for script in MIGRATIONS[:2]:  # what 4cc0667 ran (its MIGRATIONS are these two)
        db.executescript(script)
    db.execute("PRAGMA user_version=2")
    insert = ("INSERT INTO programs (id, name, kind, path, map_owner_id, map_pin_path, tag)"
              " VALUES (?,?,2,'/x.o',?,?,'t')")  # fmt: skip
    db.execute(insert, (10, "owner", None, "/rt/fs/maps/10"))
    db.execute(insert, (11, "user", 10, "/rt/fs/maps/10"))
    db.execute("INSERT INTO program_globals VALUES (11, 'g', x'01')")
    db.execute("INSERT INTO program_metadata VALUES (11, 'bpfman_application', 'app')")
    db.execute("INSERT INTO links (program_id, kind, params) VALUES (11, 2, '{}')")
    with pytest.raises(sqlite3.IntegrityError):  # schema 2: the owner cannot go first
        db.execute("DELETE FROM programs WHERE id = 10")
    db.close()

    store = Store(str(path))
    try:
        assert store.schema_version == len(MIGRATIONS) >= 3
        user = store.program(11)
        assert user is not None and user.map_owner_id == 10 and user.globals == {"g": b"\x01"}
        assert user.metadata == {"bpfman_application": "app"} and len(store.links(11)) == 1
        assert store.map_users("/rt/fs/maps/10") == [10, 11]
        with store.transaction():
            store.delete_program(10)  # the owner first
        assert store.map_users("/rt/fs/maps/10") == [11]
        assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        with pytest.raises(sqlite3.IntegrityError), store.transaction():
            store.delete_program(11)  # its link still refers to it
    finally:
        store.close()
    reopened = Store(str(path))  # migrated once: opening again changes nothing
    assert reopened.schema_version == len(MIGRATIONS) and reopened.map_users("/rt/fs/maps/10")
    reopened.close()


# -------------------------------------------------------- 6. the namespace or interface gone


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def dispatchers(cli) -> int:
    """The store's dispatchers rows (one per hook a multi-program dispatcher runs)."""
    import sqlite3

    db = sqlite3.connect(os.path.join(cli.runtime, "db", "bpfman.db"))
    try:
        return int(db.execute("SELECT count(*) FROM dispatchers").fetchone()[0])
    finally:
        db.close()


@pytest.mark.kernel_feature  # multi-program dispatchers need freplace: make vmtest runs them
def test_unload_and_detach_after_netns_deleted(cli) -> None:
    ns = f"pbt-{os.getpid()}-updel"
    path = f"/var/run/netns/{ns}"
    ip("netns", "add", ns)
    try:
        ip("-n", ns, "link", "add", "updel0", "type", "veth", "peer", "name", "updel1")
        ip("-n", ns, "link", "set", "updel0", "up")
        progs = {}
        for obj, prog in (("integration/xdp_pass", "xdp:pass"), ("integration/tc_pass", "tc:pass"),
                          ("integration/tcx_test", "tcx:tcx_pass"),
                          ("integration/tcx_test", "tcx:tcx_next")):  # fmt: skip
            (loaded,) = cli("load", "file", "-p", upstream(obj), "--programs", prog, "-o",
                            "json").json()  # fmt: skip
            progs[prog] = loaded["kernel_info"]["id"]
        net = ["-i", "updel0", "--netns", path]
        xdp = cli("attach", str(progs["xdp:pass"]), "xdp", "-p", "10", *net,
                  "-o", "json").json()["link_id"]  # fmt: skip
        cli("attach", str(progs["tc:pass"]), "tc", "-d", "ingress", "-p", "10", *net)
        tcx_next = None
        if features.available("tcx"):  # Linux 6.6: make vmtest's 6.1 guest has none
            cli("attach", str(progs["tcx:tcx_pass"]), "tcx", "-d", "ingress", "-p", "10", *net)
            tcx_next = cli("attach", str(progs["tcx:tcx_next"]), "tcx", "-d", "ingress", "-p",
                           "20", *net, "-o", "json").json()["link_id"]  # fmt: skip
        if features.available("freplace"):  # a second program on each dispatcher
            cli("attach", str(progs["xdp:pass"]), "xdp", "-p", "20", *net)
            cli("attach", str(progs["tc:pass"]), "tc", "-d", "ingress", "-p", "20", *net)
            links = 6 if tcx_next is not None else 4
            assert cli.db_rows()["links"] == links and dispatchers(cli) == 2  # xdp, tc ingress
    finally:
        ip("netns", "del", ns)  # the interface, its filters and links go with it
    if tcx_next is not None:
        cli("detach", str(tcx_next))
    cli("detach", str(xdp))
    for prog_id in progs.values():
        cli("unload", str(prog_id))
    assert cli.pins() == [] and cli.db_rows()["links"] == 0 and dispatchers(cli) == 0
    assert cli("doctor").rc == 0


@pytest.mark.kernel_feature  # as above
def test_detach_after_interface_deleted(cli) -> None:
    name = f"pbd{os.getpid() % 100000}"
    ip("link", "add", name, "type", "veth", "peer", "name", f"{name}p")
    try:
        ip("link", "set", name, "up")
        (tc,) = cli("load", "file", "-p", upstream("integration/tc_pass"), "--programs",
                    "tc:pass", "-o", "json").json()  # fmt: skip
        (tcx,) = cli("load", "file", "-p", upstream("integration/tcx_test"), "--programs",
                     "tcx:tcx_pass", "-o", "json").json()  # fmt: skip
        tc_id, tcx_id = tc["kernel_info"]["id"], tcx["kernel_info"]["id"]
        tc_link = cli("attach", str(tc_id), "tc", "-d", "egress", "-i", name, "-p", "5",
                      "-o", "json").json()["link_id"]  # fmt: skip
        if features.available("tcx"):  # Linux 6.6: make vmtest's 6.1 guest has none
            cli("attach", str(tcx_id), "tcx", "-d", "egress", "-i", name, "-p", "5")
        (xdp,) = cli("load", "file", "-p", upstream("integration/xdp_pass"), "--programs",
                     "xdp:pass", "-o", "json").json()  # fmt: skip
        xdp_id = xdp["kernel_info"]["id"]
        xdp_link = cli("attach", str(xdp_id), "xdp", "-i", name, "-p", "5",
                       "-o", "json").json()["link_id"]  # fmt: skip
        if features.available("freplace"):
            cli("attach", str(xdp_id), "xdp", "-i", name, "-p", "6")
            cli("attach", str(tc_id), "tc", "-d", "egress", "-i", name, "-p", "6")
            assert dispatchers(cli) == 2
    finally:
        ip("link", "del", name)
    cli("detach", str(tc_link))
    cli("detach", str(xdp_link))
    cli("unload", str(tc_id))
    cli("unload", str(tcx_id))
    cli("unload", str(xdp_id))
    assert cli.db_rows()["links"] == 0 and dispatchers(cli) == 0
    assert cli.pins() == [] and cli("doctor").rc == 0


# ---------------------------------------------------------------- kprobe / fentry (make vmtest)


@pytest.mark.kernel_feature
def test_kprobe_and_kretprobe_cli_guide(cli) -> None:
    # the CLI guide: load kprobe:my_kprobe / kprobe:my_kretprobe, attach kprobe -f try_to_wake_up
    progs = cli("load", "file", "-p", upstream("integration/kprobe"), "--programs",
                "kprobe:my_kprobe", "kretprobe:my_kretprobe", "-o", "json").json()  # fmt: skip
    kp, krp = (p["kernel_info"]["id"] for p in progs)
    assert rows(cli("get", "program", str(kp)).out)["Kernel Type"] == ["probe"]
    assert table_ids(cli("list", "programs", "-p", "probe").out) == [kp, krp]
    if not features.available("kprobe"):
        r = cli("attach", str(kp), "kprobe", "-f", "try_to_wake_up", rc=1)
        assert "CONFIG_KPROBES" in r.err
    else:
        for prog in (kp, krp):
            link = cli("attach", str(prog), "kprobe", "-f", "try_to_wake_up", "--output", "json")
            link = link.json()
            text = cli("list", "links", "-p", "probe").out
            assert f" {link['link_id']} " in text and "try_to_wake_up" in text
    cli("unload", str(kp))
    cli("unload", str(krp))
    assert cli.pins() == []


@pytest.mark.kernel_feature
def test_fentry_fexit_cli_guide(cli) -> None:
    entry = ["load", "file", "-p", upstream("integration/fentry"), "--programs"]
    if not features.available("trampolines"):
        r = cli(*entry, "fentry:test_fentry:do_unlinkat", rc=1)
        assert "trampoline" in r.err and cli.pins() == []
        return
    ids = []
    for prog in ("fentry:test_fentry:do_unlinkat", "fexit:test_fexit:do_unlinkat"):
        (loaded,) = cli(*entry, prog, "-o", "json").json()
        ids.append(loaded["kernel_info"]["id"])
        got = rows(cli("get", "program", str(ids[-1])).out)
        assert got["Kernel Type"] == ["tracing"]
        cli("attach", str(ids[-1]), prog.split(":")[0])
    assert [line.split()[-1] for line in cli("list", "links", "-p", "tracing").out.splitlines()[1:]
            ] == ["do_unlinkat", "do_unlinkat"]  # fmt: skip
    assert table_ids(cli("list", "programs", "-p", "tracing").out) == ids
    for prog_id in ids:
        cli("unload", str(prog_id))
    assert cli.pins() == []
