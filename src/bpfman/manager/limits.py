"""Documented size limits of what a request may store: a program's metadata and global data
are kept in the database and returned by every List, so they stay small enough for many
programs to fit one gRPC message (clients receive at most 4 MiB by default)."""

from __future__ import annotations

from collections.abc import Mapping

from bpfman.errors import BpfError
from bpfman.manager.errors import InputError

MAX_METADATA_ENTRIES = 64
MAX_METADATA_BYTES = 4096  # keys and values together, UTF-8
MAX_GLOBALS_BYTES = 4096  # values together
GRPC_MESSAGE_LIMIT = 4 << 20  # the default receive limit of gRPC clients
MAX_ECHO = 200  # characters of a request's value repeated in an error message


class TooLarge(BpfError):
    """An answer over the message limit (gRPC RESOURCE_EXHAUSTED, with how to narrow it)."""


def check_load(metadata: Mapping[str, str], globals_: Mapping[str, bytes]) -> None:
    """Refuse metadata or global data over the limits (INVALID_ARGUMENT, exit 2)."""
    if len(metadata) > MAX_METADATA_ENTRIES:
        raise InputError(
            f"metadata: {len(metadata)} entries, at most {MAX_METADATA_ENTRIES} are allowed"
        )
    size = sum(len(k.encode()) + len(v.encode()) for k, v in metadata.items())
    if size > MAX_METADATA_BYTES:
        raise InputError(f"metadata: {size} bytes, at most {MAX_METADATA_BYTES} are allowed")
    size = sum(len(v) for v in globals_.values())
    if size > MAX_GLOBALS_BYTES:
        raise InputError(f"global data: {size} bytes, at most {MAX_GLOBALS_BYTES} are allowed")


def echo(value: object) -> str:
    """*value* as an error message may repeat it: repr, at most ``MAX_ECHO`` characters."""
    text = repr(value)
    return text if len(text) <= MAX_ECHO else f"{text[:MAX_ECHO]}... ({len(text)} characters)"
