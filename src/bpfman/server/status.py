"""Which gRPC status answers a failed request: the error's kind decides, the message is one line."""

from __future__ import annotations

import errno as _errno

import grpc


class Unimplemented(Exception):
    """A request the daemon understands but cannot serve yet (gRPC UNIMPLEMENTED)."""


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status code and one-line message for *exc*, raised while serving a request."""
    from bpfman.errors import BpfError, InputError, KernelFeatureError, UnknownName
    from bpfman.images.errors import (
        ImageNotFound,
        NotBytecode,
        NotCached,
        RegistryDenied,
        RegistryUnreachable,
        SignatureError,
        TamperedCache,
    )
    from bpfman.manager.errors import AlreadyExistsError, NotFoundError, PreconditionError
    from bpfman.manager.limits import TooLarge
    from bpfman.manager.lock import LockTimeout

    C = grpc.StatusCode
    kinds: list[tuple[tuple[type[BaseException], ...], grpc.StatusCode]] = [
        ((Unimplemented,), C.UNIMPLEMENTED),
        ((TooLarge,), C.RESOURCE_EXHAUSTED),
        ((InputError,), C.INVALID_ARGUMENT),
        ((NotFoundError, UnknownName, ImageNotFound), C.NOT_FOUND),
        ((AlreadyExistsError,), C.ALREADY_EXISTS),
        ((RegistryUnreachable, LockTimeout), C.UNAVAILABLE),
        ((RegistryDenied,), C.PERMISSION_DENIED),
        (
            (
                PreconditionError,
                KernelFeatureError,
                SignatureError,
                TamperedCache,
                NotCached,
                NotBytecode,
            ),
            C.FAILED_PRECONDITION,
        ),
    ]
    code = next((c for types, c in kinds if isinstance(exc, types)), C.INTERNAL)
    if code == C.INTERNAL and isinstance(exc, BpfError):
        code = _errno_code(exc.errno)
    return code, _one_line(exc, code)


def _errno_code(err: int) -> grpc.StatusCode:
    """A library error by its errno: a missing thing, a busy hook, else the kernel refused.

    Missing: a file or pin (ENOENT), a network interface (ENODEV), a kernel
    function (ESRCH: libbpf's "no such type in the kernel's BTF" for fentry/fexit).
    """
    if err in (_errno.ENOENT, _errno.ENODEV, _errno.ESRCH):
        return grpc.StatusCode.NOT_FOUND
    if err in (_errno.EBUSY, _errno.EEXIST):
        return grpc.StatusCode.FAILED_PRECONDITION
    return grpc.StatusCode.ABORTED


def _one_line(exc: BaseException, code: grpc.StatusCode) -> str:
    from bpfman.manager.limits import MAX_ECHO

    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    if len(text) > 4 * MAX_ECHO:  # a long value echoed: the status must still fit a trailer
        text = f"{text[: 4 * MAX_ECHO]}... ({len(text)} characters)"
    if code == grpc.StatusCode.INTERNAL:
        return f"internal error ({type(exc).__name__}): {text}"
    return text
