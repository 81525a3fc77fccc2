"""The README's demo runs, counts, and leaves nothing behind."""

from __future__ import annotations

import subprocess
import sys


def test_demo(cli) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "bpfman.demo", "--seconds", "1", "--runtime-dir", cli.runtime],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr + p.stdout
    assert "counted" in p.stdout and "0 demo programs left" in p.stdout
    assert "kill" in p.stdout and "count_execve" in p.stdout
    assert cli.pins() == []
    assert cli.db_rows()["programs"] == 0
