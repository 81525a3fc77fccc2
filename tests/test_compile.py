"""``bpfman compile``: the project's own BPF sources built by it, compared with the Makefile's.

Against the same vmlinux.h the objects are byte for byte the Makefile's (the
shipped ones after the Makefile's ``llvm-strip -g``). Against the running
kernel's BTF (the default) the header is generated and cached, and every
section but the DWARF ones (which name the header's directory) is the same.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import bpfman
from bpfman import BpfError, compiler
from bpfman.elf import ElfFile

ROOT = Path(__file__).resolve().parent.parent
BPFMAN = str(Path(sys.executable).parent / "bpfman")


def bpfman_compile(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BPFMAN, "compile", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600
    )


def sections(path: Path | str) -> dict[str, bytes]:
    """Every section's bytes, by name, but DWARF's (paths of the build machine)."""
    data = Path(path).read_bytes()
    elf = ElfFile(data, str(path))
    return {
        s.name: data[s.offset : s.offset + s.size]
        for s in elf.sections
        if "debug" not in s.name and s.name not in (".strtab", ".symtab", ".llvm_addrsig")
    }


def test_compile_builds_the_projects_sources_as_the_makefile(tmp_path) -> None:
    tests = sorted(p.relative_to(ROOT) for p in (ROOT / "tests" / "bpf").glob("*.bpf.c"))
    shipped = sorted(
        p.relative_to(ROOT)
        for d in ("bpf/examples", "bpf/dispatchers")
        for p in (ROOT / d).glob("*.bpf.c")
    )
    guide = sorted(p.relative_to(ROOT) for p in (ROOT / "examples").glob("*.bpf.c"))
    assert len(tests) >= 9 and len(shipped) >= 3 and len(guide) >= 5
    out = tmp_path / "out"
    p = bpfman_compile(
        *map(str, tests + shipped), "-o", str(out), "--vmlinux", "build/vmlinux.h",
        "-I", "bpf/include",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == [str(out / (s.name[:-2] + ".o")) for s in tests + shipped]
    for src in tests:
        obj = src.name[:-2] + ".o"
        assert (out / obj).read_bytes() == (ROOT / "build" / "tests" / obj).read_bytes(), obj
    # the guide's (names shared with tests/bpf: a directory of their own), built next to them
    guide_out = tmp_path / "guide"
    p = bpfman_compile(*map(str, guide), "-o", str(guide_out), "--vmlinux", "build/vmlinux.h")
    assert p.returncode == 0, p.stderr
    for src in guide:
        obj = src.name[:-2] + ".o"
        assert (guide_out / obj).read_bytes() == (ROOT / src.parent / obj).read_bytes(), obj
    for src in shipped:  # the Makefile ships them without DWARF
        obj = src.name[:-2] + ".o"
        stripped = tmp_path / obj
        subprocess.run(["llvm-strip", "-g", str(out / obj), "-o", str(stripped)], check=True)
        assert stripped.read_bytes() == (ROOT / "src/bpfman/data" / obj).read_bytes(), obj
    assert not list(out.glob("*.tmp"))


def test_compile_against_the_running_kernel_caches_its_vmlinux_h(tmp_path) -> None:
    cache = tmp_path / "cache"
    args = ["tests/bpf/basic.bpf.c", "-I", "bpf/include", "-o", str(tmp_path), "--cache-dir"]
    p = bpfman_compile(*args, str(cache))
    assert p.returncode == 0, p.stderr
    (header,) = cache.glob("vmlinux/*/vmlinux.h")
    # the Makefile's header comes from the same kernel's BTF through the same bpftool
    assert header.read_bytes() == (ROOT / "build" / "vmlinux.h").read_bytes()
    made = tmp_path / "basic.bpf.o"
    assert sections(made) == sections(ROOT / "build" / "tests" / "basic.bpf.o")
    inode = header.stat().st_ino
    made.unlink()
    p = bpfman_compile(*args, str(cache))  # a second compile reuses the cached header
    assert p.returncode == 0, p.stderr
    assert header.stat().st_ino == inode and made.exists()
    # the kernel's BTF given explicitly is the same header
    p = bpfman_compile(*args, str(cache), "--vmlinux", "/sys/kernel/btf/vmlinux")
    assert p.returncode == 0 and list(cache.glob("vmlinux/*/vmlinux.h")) == [header]
    with bpfman.load(made) as obj:  # and the object loads
        assert "count_kill" in obj.programs


SOURCE = """\
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "extra.h"
char LICENSE[] SEC("license") = "GPL";
_Static_assert(ANSWER == 42, "-D reached the source");
SEC("xdp")
int pass(struct xdp_md *ctx) { return EXTRA_VERDICT; }
"""


def test_compile_defines_includes_and_diagnostics(tmp_path) -> None:
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "extra.h").write_text("#define EXTRA_VERDICT XDP_PASS\n")
    src = tmp_path / "good.bpf.c"
    src.write_text(SOURCE)
    common = ["--vmlinux", "build/vmlinux.h", "-I", str(inc), "-o", str(tmp_path)]
    p = bpfman_compile(str(src), *common, "-D", "ANSWER=42")
    assert p.returncode == 0, p.stderr
    with bpfman.load(tmp_path / "good.bpf.o") as obj:
        assert obj.programs["pass"].test_run(bytes(64)).retval == 2  # XDP_PASS
    # clang's own diagnostics, as clang prints them, then one line of ours
    p = bpfman_compile(str(src), *common, "-D", "ANSWER=41")
    assert p.returncode == 1
    lines = p.stderr.splitlines()
    assert f"{src}:5:1: error: static_assert failed" in lines[0] and "-D reached" in lines[0]
    assert lines[-1] == f"Error: clang failed on {src} (exit 1)"
    bad = tmp_path / "bad.bpf.c"
    bad.write_text("int broken(void) { return undeclared; }\n")
    p = bpfman_compile(str(bad), *common)
    assert p.returncode == 1
    assert "bad.bpf.c:1:27: error: use of undeclared identifier 'undeclared'" in p.stderr
    assert not (tmp_path / "bad.bpf.o").exists() and not list(tmp_path.glob("*.tmp"))


def test_compile_refusals_are_one_line(tmp_path) -> None:
    p = bpfman_compile(str(tmp_path / "nope.bpf.c"))
    assert (p.returncode, p.stderr) == (1, f"Error: {tmp_path}/nope.bpf.c: no such file\n")
    p = bpfman_compile("tests/bpf/basic.bpf.c", "--vmlinux", str(tmp_path / "none"))
    assert (p.returncode, p.stderr) == (1, f"Error: --vmlinux {tmp_path}/none: no such file\n")
    no_clang = dict(os.environ, PATH=str(tmp_path))
    p = bpfman_compile("tests/bpf/basic.bpf.c", env=no_clang)
    assert p.returncode == 1
    assert p.stderr == "Error: clang not found: install it (Debian package clang)\n"
    p = bpfman_compile()
    assert p.returncode == 2 and "Missing argument" in p.stderr
    # libbpf's headers missing (not uninstallable here: the decision itself)
    with pytest.raises(
        BpfError, match=r"^bpf/bpf_helpers.h not found: install it \(Debian package libbpf-dev\)$"
    ):
        compiler.check_headers([str(tmp_path)], system=())
    compiler.check_headers(["bpf/include"])  # found in the system's /usr/include


def test_clang_command_line() -> None:
    req = compiler.Request(["a.bpf.c"], "out", includes=["inc"], defines=["X=1"], machine="aarch64")
    args = compiler.clang_args(req, "a.bpf.c", "out/a.bpf.o", "/cache/v")
    assert args[:8] == ["-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_arm64", "-I/cache/v",
                        "-Iinc", "-DX=1"]  # fmt: skip
    assert args[-4:] == ["-c", "a.bpf.c", "-o", "out/a.bpf.o"]
    assert compiler.output_name("dir/x.bpf.c", None) == "./x.bpf.o"
    with pytest.raises(BpfError, match="no eBPF target architecture known for machine 'vax'"):
        compiler.target_arch("vax")
