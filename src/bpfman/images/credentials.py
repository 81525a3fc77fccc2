"""Registry credentials: ``--registry-auth BASE64(user:password)`` or the gRPC username/password."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from bpfman.images.errors import InputError


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    @classmethod
    def from_base64(cls, value: str | None) -> Credentials | None:
        """``--registry-auth BASE64(user:password)``."""
        if not value:
            return None
        try:
            text = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise InputError("--registry-auth: not base64 of USER:PASSWORD") from None
        user, sep, password = text.partition(":")
        if not sep or not user:
            raise InputError("--registry-auth: expected base64 of USER:PASSWORD")
        return cls(user, password)

    @classmethod
    def of(cls, username: str | None, password: str | None) -> Credentials | None:
        """The gRPC BytecodeImage's optional username/password."""
        if not username:
            return None
        return cls(username, password or "")

    def basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()
