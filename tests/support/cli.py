"""Running the ``bpfman`` CLI in tests, each test with its own runtime directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BPFMAN = str(Path(sys.executable).with_name("bpfman"))


@dataclass
class Result:
    rc: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def program_ids(self) -> list[int]:
        """The kernel ids of the programs a ``load ... -o json`` loaded, in order."""
        return [int(p["kernel_info"]["id"]) for p in self.json()]


class Cli:
    """``cli("list", "programs")`` runs ``bpfman --runtime-dir RT list programs``."""

    def __init__(self) -> None:
        self.runtime = f"/run/bpfman-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.env = dict(os.environ, BPFMAN_LOCK_TIMEOUT="5")

    def __call__(self, *args: str, rc: int | None = 0, env: dict[str, str] | None = None) -> Result:
        p = subprocess.run(
            [BPFMAN, "--runtime-dir", self.runtime, *args],
            capture_output=True,
            text=True,
            env=env or self.env,
            timeout=60,
        )
        res = Result(p.returncode, p.stdout, p.stderr)
        if rc is not None:
            cmd = " ".join(args)
            assert p.returncode == rc, f"bpfman {cmd} -> {p.returncode}\n{p.stderr}{p.stdout}"
        return res

    def load(
        self,
        path: str,
        programs: str,
        *args: str,
        rc: int | None = 0,
        env: dict[str, str] | None = None,
    ) -> Result:
        """``bpfman load file -p PATH --programs PROGRAMS ARGS -o json`` (*programs*:
        ``TYPE:NAME ...``); ``.program_ids()`` are the loaded programs' ids."""
        return self(
            "load", "file", "-p", path, "--programs", programs, *args, "-o", "json",
            rc=rc, env=env,
        )  # fmt: skip

    def counter(self, owner: int, slot: int, map_name: str = "counters") -> int:
        """The number at *slot* of map *map_name* that program *owner* pinned (its maps dir)."""
        import bpfman

        with bpfman.Map.from_pin(f"{self.fs}/maps/{owner}/{map_name}") as m:
            return int.from_bytes(m[slot], "little")

    @property
    def fs(self) -> str:
        return os.path.join(self.runtime, "fs")

    def pins(self) -> list[str]:
        """Everything pinned under the runtime bpffs (dirs included, 'maps'/'links' roots not)."""
        out = []
        for root, dirs, files in os.walk(self.fs):
            for n in dirs + files:
                rel = os.path.relpath(os.path.join(root, n), self.fs)
                if rel not in ("maps", "links", "maps.debug", "progs.debug"):
                    out.append(rel)
        return sorted(out)

    def db_rows(self) -> dict[str, int]:
        import sqlite3

        db = sqlite3.connect(os.path.join(self.runtime, "db", "bpfman.db"))
        try:
            return {
                t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("programs", "links", "program_metadata", "program_globals")
            }
        finally:
            db.close()

    def cleanup(self) -> None:
        if os.path.ismount(self.fs):
            subprocess.run(["umount", self.fs], check=False)
        shutil.rmtree(self.runtime, ignore_errors=True)
