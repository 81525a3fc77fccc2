"""Bad input: each a one-line BpfError, nothing left in the kernel (checked by no_residue)."""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import pytest

import bpfman
from bpfman.errors import verifier_verdict


def one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text, f"message is not one line: {text!r}"
    return text


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(bpfman.BpfError) as e:
        bpfman.open(tmp_path / "missing.bpf.o")
    assert one_line(e.value).endswith("missing.bpf.o: no such file")
    assert e.value.errno == 2


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(bpfman.BpfError, match="is a directory"):
        bpfman.open(tmp_path)


def test_not_elf(tmp_path: Path) -> None:
    p = tmp_path / "text.o"
    p.write_text("hello, not an object\n")
    with pytest.raises(bpfman.BpfError) as e:
        bpfman.load(p)
    assert one_line(e.value).endswith("not an ELF file")


def test_truncated_object(tmp_path: Path, bpf_obj) -> None:
    p = tmp_path / "trunc.o"
    p.write_bytes(Path(bpf_obj("basic")).read_bytes()[:3000])
    with pytest.raises(bpfman.BpfError) as e:
        bpfman.load(p)
    assert "BPF object format invalid" in one_line(e.value)


def test_object_for_another_architecture(tmp_path: Path) -> None:
    src = tmp_path / "f.c"
    src.write_text("int f(void) { return 1; }\n")
    obj = tmp_path / "f.o"
    subprocess.run(["clang", "-c", str(src), "-o", str(obj)], check=True)
    with pytest.raises(bpfman.BpfError) as e:
        bpfman.load(obj)
    assert "not an eBPF object" in one_line(e.value)


def test_object_with_other_endianness(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    obj = tmp_path / "eb.o"
    subprocess.run(
        [
            "clang", "-O2", "-g", "-target", "bpfeb", f"-I{root / 'build'}", "-c",
            str(root / "tests/bpf/bad_verifier.bpf.c"), "-o", str(obj),
        ],
        check=True,
    )  # fmt: skip
    with pytest.raises(bpfman.BpfError) as e:
        bpfman.open(obj)
    assert "Endian mismatch" in one_line(e.value)


def test_unknown_program_and_map_names(bpf_obj) -> None:
    spec = bpfman.open(bpf_obj("basic"))
    with pytest.raises(KeyError, match=r"no program named 'nope'.*count_kill"):
        spec.programs["nope"]
    with pytest.raises(KeyError, match=r"no map named 'nope'.*by_pid"):
        spec.maps["nope"]
    with pytest.raises(KeyError, match=r"no global variable named 'nope'.*target_pid"):
        spec.globals["nope"] = 1
    spec.close()


def test_wrong_size_globals(bpf_obj) -> None:
    with bpfman.open(bpf_obj("basic")) as spec:
        with pytest.raises(bpfman.BpfError) as e:
            spec.globals["target_pid"] = b"\x01\x02"
        assert one_line(e.value) == "global 'target_pid' is 2 bytes, expected 4"
        with pytest.raises(bpfman.BpfError, match="out of range for u32"):
            spec.globals["target_pid"] = 1 << 40
        with pytest.raises(bpfman.BpfError, match="is 8 bytes, expected 4"):
            spec.globals["target_pid"] = ctypes.c_uint64(1)
        with pytest.raises(bpfman.BpfError, match="cannot use a str value"):
            spec.globals["target_pid"] = "text"
        spec.globals["label"] = b"12345678"
        assert spec.globals["label"] == b"12345678"


def test_configure_after_load_is_refused(bpf_obj) -> None:
    spec = bpfman.open(bpf_obj("basic"))
    with spec.load() as obj:
        with pytest.raises(bpfman.BpfError, match="already loaded"):
            spec.maps["counts"].max_entries = 8
        with pytest.raises(bpfman.BpfError, match="read-only after load"):
            obj.globals["target_pid"] = 1
        obj.globals["bias"] = 7  # .data stays writable
        assert obj.globals["bias"] == 7


def test_verifier_rejection_carries_the_log(bpf_obj) -> None:
    with pytest.raises(bpfman.BpfError) as e:
        bpfman.load(bpf_obj("bad_verifier"))
    msg = one_line(e.value)
    assert "program 'unchecked' rejected by the verifier" in msg
    assert "invalid mem access 'map_value_or_null'" in msg
    assert e.value.errno == 13
    assert "R0=map_value_or_null" in e.value.verifier_log
    assert "BEGIN PROG LOAD LOG" in e.value.log


def test_verifier_rejection_of_one_program_can_be_avoided(bpf_obj) -> None:
    spec = bpfman.open(bpf_obj("bad_verifier"))
    spec.programs["unchecked"].autoload = False
    with spec.load() as obj:
        assert list(obj.programs) == ["fine"]


def test_verifier_verdict_parsing() -> None:
    log = (
        "libbpf: prog 'p': -- BEGIN PROG LOAD LOG --\n"
        "0: R1=ctx() R10=fp0\n"
        "; x @ a.c:3\n"
        "7: (79) r1 = *(u64 *)(r0 +0)\n"
        "R0 invalid mem access 'map_value_or_null'\n"
        "processed 7 insns (limit 1000000)\n"
        "-- END PROG LOAD LOG --\n"
    )
    assert verifier_verdict(log) == ("p", "R0 invalid mem access 'map_value_or_null'")
    assert verifier_verdict("libbpf: nothing\n") == ("", "")


def test_use_after_close_is_a_clear_error(bpf_obj) -> None:
    obj = bpfman.load(bpf_obj("basic"))
    prog = obj.programs["count_kill"]
    obj.close()
    with pytest.raises(bpfman.BpfError, match="its object is closed"):
        prog.attach_tracepoint("syscalls", "sys_enter_kill")


def test_bad_tracepoints(bpf_obj) -> None:
    with bpfman.load(bpf_obj("basic")) as obj:
        prog = obj.programs["count_kill"]
        with pytest.raises(bpfman.BpfError, match="no tracepoint syscalls/nope in this kernel"):
            prog.attach_tracepoint("syscalls", "nope")
        with pytest.raises(bpfman.BpfError, match="GROUP/NAME"):
            prog.attach_tracepoint("syscalls/sys_enter_kill", "x/y")


