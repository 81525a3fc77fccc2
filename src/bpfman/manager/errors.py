"""Manager error kinds; each maps to a CLI exit code and a gRPC status."""

from __future__ import annotations

from bpfman.errors import BpfError, InputError


class NotFoundError(BpfError):
    """An unknown program or link id (gRPC NOT_FOUND)."""


class AlreadyExistsError(BpfError):
    """A CSI volume is published on the target already, but not as asked (gRPC ALREADY_EXISTS)."""


class PreconditionError(BpfError):
    """The request is valid but the state forbids it (gRPC FAILED_PRECONDITION)."""


__all__ = ["AlreadyExistsError", "BpfError", "InputError", "NotFoundError", "PreconditionError"]
