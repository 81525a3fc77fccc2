"""Errors of the image code: one line each; CLI exit 1 (2 for options that cannot go
together)."""

from __future__ import annotations

from bpfman.errors import BpfError, InputError, UsageError


class ImageError(BpfError):
    """Pulling, caching, checking or pushing an image failed (CLI exit 1)."""


class RegistryUnreachable(ImageError):
    """The registry could not be contacted at all (gRPC UNAVAILABLE)."""


class RegistryDenied(ImageError):
    """The registry wants other credentials, or none it was given (gRPC PERMISSION_DENIED)."""


class NotBytecode(ImageError):
    """The image's object is not eBPF bytecode for this host (gRPC FAILED_PRECONDITION)."""


class ImageNotFound(ImageError):
    """The registry has no such repository, tag or digest (gRPC NOT_FOUND)."""


class TamperedCache(ImageError):
    """A cached blob no longer matches its digest."""


class NotCached(ImageError):
    """The pull policy is Never and the cache has no such image (gRPC FAILED_PRECONDITION)."""


class SignatureError(ImageError):
    """The signature policy refuses the image (gRPC FAILED_PRECONDITION)."""


__all__ = [
    "ImageError",
    "ImageNotFound",
    "InputError",
    "NotBytecode",
    "NotCached",
    "RegistryDenied",
    "RegistryUnreachable",
    "SignatureError",
    "TamperedCache",
    "UsageError",
]
