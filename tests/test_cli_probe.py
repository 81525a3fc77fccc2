"""``bpfman probe``: the kernel's features as a table or JSON, in agreement with the library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bpfman import features

BPFMAN = str(Path(sys.executable).with_name("bpfman"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200")  # a wide table: rows stay on one line
    return subprocess.run([BPFMAN, *args], capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.kernel_feature
def test_probe_json_agrees_with_the_library() -> None:
    p = run("probe", "-o", "json")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert set(report) >= {"kernel", "libbpf", "features"}
    got = report["features"]
    assert list(got) == features.names()
    for f in features.all():
        assert got[f.name] == {"available": f.available, "detail": f.detail}, f.name
    assert got["tracepoint"]["available"] is True  # what every test of this suite relies on
    assert got["kprobe"]["available"] == features.available("kprobe")


def test_probe_table() -> None:
    p = run("probe")
    assert p.returncode == 0, p.stderr
    for name in ("tracepoint", "kprobe", "trampolines", "prog_type:xdp", "map_type:ringbuf"):
        assert name in p.stdout
    if not features.available("kprobe"):
        assert features.probe("kprobe").detail in p.stdout


def test_cli_import_is_lazy() -> None:
    code = (
        "import sys, bpfman.cli.main as m; "
        "print(' '.join(n for n in sys.modules if n.startswith(('bpfman', 'rich'))))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = p.stdout.split()
    assert "bpfman.cli.main" in loaded
    assert not [n for n in loaded if n.startswith("rich")]
    assert "bpfman._libbpf" not in loaded and "bpfman.features" not in loaded


def test_shell_completion(cli) -> None:
    script = cli("completion", "bash").out
    assert "_BPFMAN_COMPLETE=bash_complete" in script and "complete -o nosort" in script
    assert "compdef" in cli("completion", "zsh").out

    from support.cli import BPFMAN

    def complete(line: str) -> list[str]:
        words = line.split(" ")
        env = dict(cli.env, COMP_WORDS=line, COMP_CWORD=str(len(words) - 1),
                   _BPFMAN_COMPLETE="bash_complete")  # fmt: skip
        out = subprocess.run([BPFMAN], env=env, capture_output=True, text=True, check=True).stdout
        return [w.split(",", 1)[1] for w in out.split()]

    assert complete("bpfman li") == ["list"]
    assert complete("bpfman list pro") == ["programs"]
    attach_types = set(complete("bpfman attach 5 "))
    assert {"xdp", "tc", "tcx", "tracepoint", "kprobe", "uprobe"} <= attach_types
    r = cli("completion", "tcsh", rc=2)
    assert "tcsh" in r.err
