"""The exceptions of pybpfman: one-line messages, with libbpf's log attached."""

from __future__ import annotations

import os

ENOTSUPP = 524  # the kernel-internal "operation not supported" (not in errno.h)


class BpfError(Exception):
    """An eBPF operation failed.

    ``str(err)`` is one line. ``errno`` is the kernel/libbpf error number (0 if
    none), ``log`` what libbpf printed during the operation, including the
    verifier log when a program was rejected.
    """

    def __init__(self, message: str, errno: int = 0, log: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.errno = errno
        self.log = log

    def __str__(self) -> str:
        return self.message.splitlines()[0] if self.message else ""

    @property
    def verifier_log(self) -> str:
        """The part of ``log`` between libbpf's BEGIN/END PROG LOAD LOG markers."""
        lines = self.log.splitlines()
        out: list[str] = []
        inside = False
        for line in lines:
            if "BEGIN PROG LOAD LOG" in line:
                inside = True
                continue
            if "END PROG LOAD LOG" in line:
                inside = False
                continue
            if inside:
                out.append(line)
        return "\n".join(out)


class InputError(BpfError, ValueError):
    """Bad user input: the CLI exits 2, the daemon answers INVALID_ARGUMENT."""


class UnknownName(BpfError, KeyError):
    """No program, map or variable by that name; the message lists the known ones.

    A ``KeyError`` too, so mappings keep their contract (``in``, ``.get``).
    """

    def __str__(self) -> str:
        return BpfError.__str__(self)


class KernelFeatureError(BpfError):
    """The running kernel cannot do what was asked; ``feature`` names what is missing."""

    def __init__(self, message: str, feature: str, errno: int = 0, log: str = "") -> None:
        super().__init__(message, errno=errno, log=log)
        self.feature = feature


def from_errno(what: str, err: int, log: list[str] | None = None) -> BpfError:
    """A ``BpfError`` for a failed libbpf call; *err* may be negative (libbpf style)."""
    err = abs(err)
    text = "".join(log or [])
    reason = _strerror(err)
    prog, verdict = verifier_verdict(text)
    if verdict:
        return BpfError(
            f"{what}: program {prog!r} rejected by the verifier: {verdict} ({reason})",
            errno=err,
            log=text,
        )
    hint = _last_libbpf_reason(text)
    msg = f"{what}: {reason}"
    if hint and hint.lower() not in msg.lower():
        msg += f" ({hint})"
    return BpfError(msg, errno=err, log=text)


def _strerror(err: int) -> str:
    if not err:
        return "failed"
    if err >= 4000:  # libbpf's own error numbers (LIBBPF_ERRNO__*)
        from bpfman import _libbpf

        return _libbpf.strerror(err)
    return os.strerror(err)


def verifier_verdict(text: str) -> tuple[str, str]:
    """(program name, the verifier's reason) from libbpf's log of a failed load."""
    prog = ""
    verdict = ""
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if "BEGIN PROG LOAD LOG" in line:
            inside = True
            start = line.find("prog '")
            if start >= 0:
                prog = line[start + 6 : line.find("'", start + 6)]
            continue
        if "END PROG LOAD LOG" in line:
            inside = False
            continue
        if not inside or not line:
            continue
        if line.startswith((";", "processed ", "verification time", "stack depth")):
            continue
        if line[0].isdigit() and ":" in line.split()[0]:
            continue  # an instruction trace line "7: (79) r1 = ..."
        verdict = line
    return prog, verdict[:300]


def _last_libbpf_reason(text: str) -> str:
    """The most telling single line libbpf printed (its last non-log line)."""
    best = ""
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if "BEGIN PROG LOAD LOG" in line:
            inside = True
            continue
        if "END PROG LOAD LOG" in line:
            inside = False
            continue
        if inside or not line:
            continue
        if line.startswith("libbpf: "):
            line = line[len("libbpf: ") :]
        if "ulimit -l" in line or "memlock" in line:
            continue
        best = line
    return best[:200]
