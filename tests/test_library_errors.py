"""Errors that name their cause: libbpf's decisive line, the verifier's reason and
source line, the log under an uncaught error, and libbpf's messages on ``logging``."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import traceback

import pytest

import bpfman


def one_line(e: BaseException) -> str:
    text = str(e)
    assert "\n" not in text, text
    return text


def _load_with_pin(bpf_obj, pin_path: str, max_entries: int | None = None) -> bpfman.Object:
    spec = bpfman.open(bpf_obj("library"))
    spec.maps["counts"].pin_path = pin_path
    if max_entries is not None:
        spec.maps["counts"].max_entries = max_entries
    return spec.load()


def test_pin_path_whose_parent_is_missing(bpf_obj, pin_dir: str) -> None:
    path = f"{pin_dir}/no/such/counts"
    with pytest.raises(bpfman.BpfError) as e:
        _load_with_pin(bpf_obj, path)
    msg = one_line(e.value)
    assert f"cannot create the directory of pin path {path}" in msg
    assert "No such file or directory" in msg and e.value.errno == 2


def test_pin_path_outside_bpffs(bpf_obj, tmp_path) -> None:
    with pytest.raises(bpfman.BpfError) as e:
        _load_with_pin(bpf_obj, f"{tmp_path}/counts")
    assert f"pin path {tmp_path}/counts is not on a BPF filesystem" in one_line(e.value)
    assert not os.path.exists(f"{tmp_path}/counts")


def test_pinned_map_with_other_parameters(bpf_obj, pin_dir: str) -> None:
    _load_with_pin(bpf_obj, f"{pin_dir}/counts").close()
    try:
        with pytest.raises(bpfman.BpfError) as e:
            _load_with_pin(bpf_obj, f"{pin_dir}/counts", max_entries=8)
        msg = one_line(e.value)
        assert f"the map pinned at {pin_dir}/counts differs from this one" in msg
        assert "parameter mismatch" in msg
    finally:
        os.unlink(f"{pin_dir}/counts")


def test_unknown_section_names_libbpfs_reason(bpf_obj) -> None:
    spec = bpfman.open(bpf_obj("bad_offset"))
    spec.programs["past_end"].autoload = False
    with pytest.raises(bpfman.BpfError) as e:
        spec.load()
    msg = one_line(e.value)
    assert "prog 'unknown_section': missing BPF prog type, check ELF section name" in msg
    assert "'uprobe.multi/libc.so.6:malloc'" in msg


def test_verifier_error_says_what_and_where(bpf_obj) -> None:
    spec = bpfman.open(bpf_obj("bad_offset"))
    spec.programs["unknown_section"].autoload = False
    with pytest.raises(bpfman.BpfError) as e:
        spec.load()
    msg = one_line(e.value)
    assert "program 'past_end' rejected by the verifier at bad_offset.bpf.c:22" in msg
    assert "return v[1];" in msg
    assert "invalid access to map value, value_size=8 off=8 size=8" in msg


def test_an_uncaught_error_shows_the_logs_last_lines(bpf_obj) -> None:
    child = "import sys, bpfman; bpfman.load(sys.argv[1])"
    p = subprocess.run(
        [sys.executable, "-c", child, bpf_obj("bad_verifier")], capture_output=True, text=True
    )
    assert p.returncode == 1
    tail = p.stderr.splitlines()
    i = next(n for n, line in enumerate(tail) if line.startswith("bpfman.errors.BpfError: "))
    assert "verifier log, last lines" in tail[i + 1]
    assert "R0 invalid mem access 'map_value_or_null'" in "\n".join(tail[i + 2 :])
    # the one-line form is what str() and the CLI show
    with pytest.raises(bpfman.BpfError) as e:
        bpfman.load(bpf_obj("bad_verifier"))
    assert "verifier log" not in str(e.value)
    assert "verifier log" in "".join(traceback.format_exception(e.value))


def test_libbpf_messages_go_to_the_logging_logger(bpf_obj, tmp_path, caplog) -> None:
    with caplog.at_level(logging.DEBUG, logger="bpfman.libbpf"):
        bpfman.load(bpf_obj("library")).close()
        with pytest.raises(bpfman.BpfError):
            _load_with_pin(bpf_obj, f"{tmp_path}/counts")
    records = [r for r in caplog.records if r.name == "bpfman.libbpf"]
    debug = [r.getMessage() for r in records if r.levelno == logging.DEBUG]
    warn = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert any("created successfully" in m for m in debug)
    assert any("is not on BPF FS" in m for m in warn)


def test_libbpf_is_silent_without_logging_configured(bpf_obj, tmp_path) -> None:
    child = (
        "import sys, bpfman\n"
        "s = bpfman.open(sys.argv[1]); s.maps['counts'].pin_path = sys.argv[2]\n"
        "try:\n    s.load()\nexcept bpfman.BpfError as e:\n    print(e)\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", child, bpf_obj("library"), f"{tmp_path}/counts"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "is not on a BPF filesystem" in p.stdout
    assert p.stderr == ""


def test_verifier_log_after_a_successful_load(bpf_obj) -> None:
    spec = bpfman.open(bpf_obj("library"))
    spec.programs["on_kill"].log_level = 2
    with pytest.raises(bpfman.BpfError, match="must be 0, 1 or 2"):
        spec.programs["on_getppid"].log_level = 3
    with spec.load() as obj:
        log = obj.programs["on_kill"].verifier_log
        assert "processed " in log and "insns" in log
        assert "R1=ctx()" in log  # level 2: every instruction's state
        assert obj.programs["on_getppid"].verifier_log == ""
