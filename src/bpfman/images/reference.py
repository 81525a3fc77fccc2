"""Image references (``[registry[:port]/]repository[:tag][@sha256:HEX]``) and pull policies.

Pure parsing, no network. Docker's conventions: a first component with a
``.`` or ``:`` or named ``localhost`` is the registry, else the image lives on
Docker Hub (``library/`` prefixed for one-component names); the tag defaults
to ``latest``. Loopback registries are spoken to over plain HTTP (as docker
does for ``localhost``); every other registry over HTTPS.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from dataclasses import dataclass

from bpfman.images.errors import InputError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_HOST = re.compile(r"^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?$")


class PullPolicy(enum.Enum):
    """The gRPC BytecodeImage.image_pull_policy numbers."""

    ALWAYS = 0
    IF_NOT_PRESENT = 1
    NEVER = 2

    @property
    def word(self) -> str:
        return {0: "Always", 1: "IfNotPresent", 2: "Never"}[self.value]

    @classmethod
    def parse(cls, value: str | int | PullPolicy | None) -> PullPolicy:
        if value is None:
            return cls.IF_NOT_PRESENT
        if isinstance(value, PullPolicy):
            return value
        if isinstance(value, int):
            try:
                return cls(value)
            except ValueError:
                raise InputError(f"image pull policy {value}: one of 0, 1, 2") from None
        for p in cls:
            if p.word.lower() == value.strip().lower():
                return p
        raise InputError(f"--pull-policy {value!r}: one of Always, IfNotPresent, Never")


@dataclass(frozen=True)
class Reference:
    registry: str  # as written (docker.io for Docker Hub)
    repository: str
    tag: str | None
    digest: str | None

    @property
    def host(self) -> str:
        """The host[:port] the registry API is served at."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def scheme(self) -> str:
        return "http" if is_loopback(self.host) else "https"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}/v2/{self.repository}"

    @property
    def ref(self) -> str:
        """What the manifest is fetched by: the digest when given, else the tag."""
        return self.digest or self.tag or "latest"

    def with_ref(self, tag: str | None = None, digest: str | None = None) -> Reference:
        return Reference(self.registry, self.repository, tag, digest)

    def __str__(self) -> str:
        out = f"{self.registry}/{self.repository}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def is_loopback(host: str) -> bool:
    """Whether *host* (``name[:port]`` or ``[v6][:port]``) is this machine."""
    name = host[1 : host.find("]")] if host.startswith("[") else host.split(":", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse(url: str) -> Reference:
    """Parse an image reference; a malformed one is an ``InputError``."""
    text = url.strip()
    for prefix in ("docker://", "oci://"):
        text = text.removeprefix(prefix)
    if not text or any(c.isspace() for c in text):
        raise InputError(f"image {url!r}: not an image reference")
    name, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        raise InputError(f"image {url!r}: the digest must be sha256:<64 hex digits>")
    tag: str | None = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, _, tag = name.rpartition(":")
        if not _TAG.match(tag):
            raise InputError(f"image {url!r}: bad tag {tag!r}")
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        registry, repository = first, rest
        if not _HOST.match(registry):
            raise InputError(f"image {url!r}: bad registry {registry!r}")
    else:
        registry, repository = DOCKER_HUB, name
        if "/" not in repository:
            repository = f"library/{repository}"
    if not _REPOSITORY.match(repository):
        raise InputError(
            f"image {url!r}: bad repository {repository!r} (lower-case letters, digits, . _ - /)"
        )
    if tag is None and not digest:
        tag = "latest"
    return Reference(registry, repository, tag, digest or None)
