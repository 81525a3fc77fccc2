"""The library guide's examples (docs/library.md, examples/) run against the real kernel,
and what they print is what the guide says they print."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from bpfman import features
from support.net import VethPair

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run(script: str, *args: str, stdin: str | None = None) -> str:
    """Run examples/*script* to its end; its stdout (it must exit 0 and print no traceback)."""
    p = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    return p.stdout


class Running:
    """An example running in the background, read line by line."""

    def __init__(self, script: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(EXAMPLES / script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []

    def line(self, timeout: float = 60) -> str:
        """The next line of its output (an error if it ends or stays silent *timeout* s)."""
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, f"no output in {timeout} s; so far: {self.lines}"
        text = self.proc.stdout.readline()
        assert text, (
            f"exited: {self.proc.wait()} {self.proc.stderr.read() if self.proc.stderr else ''}"
        )
        self.lines.append(text.rstrip("\n"))
        return self.lines[-1]

    def until(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        end = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.line(max(end - time.monotonic(), 0.1)))
            if m:
                return m

    def finish(self) -> str:
        """Close its stdin, wait for its end; the rest of its output."""
        out, err = self.proc.communicate(timeout=120)
        assert self.proc.returncode == 0, err
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)


@pytest.fixture
def exe(tmp_path: Path) -> str:
    """An executable with a name no other process on the machine runs."""
    path = tmp_path / f"pybpfman-exec-{uuid.uuid4().hex[:8]}"
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize("script", ["execsnoop.py", "execsnoop_async.py"])
def test_execsnoop_reports_an_exec_with_its_parent(script: str, exe: str) -> None:
    snoop = Running(script, "--seconds", "120")
    try:
        assert snoop.line().split() == ["PID", "PPID", "COMM", "FILENAME"]  # attached by now
        child = subprocess.Popen([exe])
        child.wait()
        m = snoop.until(rf"^\s*(\d+)\s+(\d+)\s+(\S+)\s+{re.escape(exe)}$")
        assert (int(m.group(1)), int(m.group(2))) == (child.pid, os.getpid())
    finally:
        snoop.stop()


def test_xdp_counter_test_run_then_live_packets(veth: VethPair) -> None:
    counter = Running("xdp_counter.py", veth.host)
    try:
        assert counter.line() == "test_run: PASS, counted {17: 3}"
        assert counter.line().startswith(f"counting on {veth.host}")
        assert veth.send(5) == 5  # UDP from the netns to the host end, through the program
        out = counter.finish()
    finally:
        counter.stop()
    udp = int(re.search(r"^udp: (\d+)$", out, re.M).group(1))  # type: ignore[union-attr]
    assert udp >= 5  # the probes, and the marker that follows them


def test_malloc_bytes_counts_a_commands_allocations() -> None:
    out = run("malloc_bytes.py", "--", sys.executable, "-c", "b = b'x' * 50_000_000")
    m = re.match(r"pid (\d+) \(\S+\): malloc returned (\d+) bytes \(exit status 0\)$", out.strip())
    assert m, out
    assert int(m.group(2)) >= 50_000_000


def test_core_config(pin_dir: str) -> None:
    out = run("core_config.py", "--pin-dir", f"{pin_dir}/core")
    attached = "on_kill_fentry" if features.available("trampolines") else "on_kill"
    assert out.splitlines() == [
        f"attached: {attached}",
        "kills_seen: 2",
        "by_signal: {'0': 1, 'SIGCONT': 10}",
        "max_entries: 64",
    ]
    assert not os.path.exists(f"{pin_dir}/core")


def test_fallback_picks_the_first_program_the_kernel_runs() -> None:
    out = run("fallback.py").splitlines()
    order = [("kill_fentry", "trampolines"), ("kill_kprobe", "kprobe"), ("kill_tracepoint", "")]
    chosen = next(name for name, feature in order if not feature or features.available(feature))
    skipped = [name for name, _f in order[: [n for n, _ in order].index(chosen)]]
    assert [line.split(":")[0].removeprefix("skipped ") for line in out[:-2]] == skipped
    for line in out[:-2]:
        assert line.endswith("[KernelFeatureError]")
    assert out[-2:] == [f"chosen: {chosen}", "kills: 3"]


def test_errors_tour() -> None:
    p = subprocess.run(
        [sys.executable, str(EXAMPLES / "errors.py")], capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert out[0].endswith(
        "pin path /tmp/not-bpffs/by_signal is not on a BPF filesystem"
        " (bpffs, e.g. under /sys/fs/bpf) (Invalid argument)"
    )
    assert (
        "program 'past_end' rejected by the verifier at bad_offset.bpf.c:24 (return v[1];)"
        in out[1]
    )
    assert "invalid access to map value, value_size=8 off=8 size=8" in out[1]
    assert re.fullmatch(r"verifier log lines: \d+ errno: 13", out[2])
    if not features.available("trampolines"):
        assert out[3] == "feature 'trampolines': " + features.probe("trampolines").detail
    assert (
        out[4]
        == "name: no program named 'kill_fexit' (known: kill_fentry, kill_kprobe, kill_tracepoint)"
    )
    assert out[5] == "logged, then raised: BpfError"
    # libbpf's lines went to the logging logger (configured in the example), on stderr
    assert "bpfman.libbpf WARNING: prog 'past_end': BPF program load failed" in p.stderr
    assert "Traceback" not in p.stderr
