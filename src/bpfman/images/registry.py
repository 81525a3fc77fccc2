"""An OCI distribution API client: manifests and blobs, pull and push, Basic and Bearer auth.

The protocol of every OCI registry (``/v2/<name>/manifests/<ref>``,
``/v2/<name>/blobs/<digest>``, monolithic blob uploads), spoken over httpx.
Authentication follows the registry's ``WWW-Authenticate`` challenge: Basic
sends the credentials; Bearer fetches a token from the challenge's realm
(with the credentials when given, anonymously otherwise) for the challenge's
scope. Every blob is checked against its digest as it arrives.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from bpfman.images.credentials import Credentials
from bpfman.images.errors import ImageError, ImageNotFound, RegistryDenied, RegistryUnreachable
from bpfman.images.layout import MANIFEST_TYPES, parse_json, sha256_digest
from bpfman.images.reference import Reference, is_loopback

MAX_MANIFEST = 4 << 20
MAX_BLOB = 128 << 20
MAX_SMALL = 64 << 10  # a token answer or an error body
USER_AGENT = "pybpfman"
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


@dataclass(frozen=True)
class Manifest:
    """One manifest or index as served: exact bytes, media type and digest."""

    data: bytes
    media_type: str
    digest: str

    def json(self) -> dict[str, Any]:
        return parse_json(self.data, f"manifest {self.digest}")


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="...",scope="..."`` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in _CHALLENGE_PARAM.finditer(rest)}  # fmt: skip
    return scheme.lower(), params


class Registry:
    """A session with one registry for one repository (``with Registry(ref) as reg:``)."""

    def __init__(
        self,
        ref: Reference,
        credentials: Credentials | None = None,
        push: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.ref = ref
        self.credentials = credentials
        self.scope = f"repository:{ref.repository}:{'pull,push' if push else 'pull'}"
        self._auth: str | None = None  # the Authorization header that worked
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
            trust_env=ref.scheme == "https",  # proxies and CA settings, never for loopback
            event_hooks={"request": [self._check_plain_http]},  # redirects and realms too
        )

    def _check_plain_http(self, request: httpx.Request) -> None:
        """Plain HTTP only to this machine: a registry (or its redirect, or its token realm)
        must not send bpfman's requests, credentials or tokens over the network in clear."""
        host = request.url.host
        if request.url.scheme != "https" and not is_loopback(
            f"[{host}]" if ":" in host else host
        ):
            raise ImageError(
                f"registry {self.ref.host}: refusing plain HTTP to {request.url.host}"
                " (only a registry on this machine may use http)"
            )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport

    def _url(self, path: str) -> str:
        return f"{self.ref.base_url}/{path}"

    @contextmanager
    def _request(self, method: str, url: str, **kw: Any) -> Iterator[httpx.Response]:
        """Send, answering the registry's auth challenge once; the response streams."""
        headers = dict(kw.pop("headers", {}))
        for attempt in range(2):
            if self._auth:
                headers["Authorization"] = self._auth
            try:
                req = self._client.build_request(method, url, headers=headers, **kw)
                resp = self._client.send(req, stream=True)
            except httpx.InvalidURL as e:
                raise ImageError(f"registry {self.ref.host}: bad URL ({e})") from None
            except httpx.TransportError as e:
                raise self._unreachable(e) from None
            if resp.status_code != 401 or attempt == 1:
                break
            challenge = resp.headers.get("WWW-Authenticate", "")
            resp.close()
            self._auth = self._answer(challenge)
        try:
            if resp.status_code == 401:
                if self.credentials is None:
                    raise RegistryDenied(
                        f"registry {self.ref.host} requires credentials (--registry-auth)"
                    )
                raise RegistryDenied(
                    f"registry {self.ref.host} refused the credentials of "
                    f"{self.credentials.username!r}"
                )
            yield resp
        finally:
            resp.close()

    def _answer(self, challenge: str) -> str:
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            if self.credentials is None:
                raise RegistryDenied(
                    f"registry {self.ref.host} requires credentials (--registry-auth)"
                )
            return self.credentials.basic()
        if scheme == "bearer":
            return "Bearer " + self._token(params)
        raise ImageError(f"registry {self.ref.host}: unsupported authentication {scheme!r}")

    def _token(self, params: dict[str, str]) -> str:
        realm = params.get("realm")
        if not realm or not realm.startswith(("http://", "https://")):
            raise ImageError(
                f"registry {self.ref.host}: bad Bearer challenge (realm {realm!r:.100})"
            )
        realm_host = httpx.URL(realm).host
        if realm.startswith("http://") and not is_loopback(
            f"[{realm_host}]" if ":" in realm_host else realm_host
        ):
            raise ImageError(
                f"registry {self.ref.host}: refusing the plain HTTP token realm {realm:.100}"
            )
        scope = self.scope if self.scope.endswith("push") else params.get("scope") or self.scope
        query = {"scope": scope}
        if params.get("service"):
            query["service"] = params["service"]
        headers = {"Accept": "application/json"}
        if self.credentials is not None:
            headers["Authorization"] = self.credentials.basic()
        try:
            with self._client.stream("GET", realm, params=query, headers=headers) as resp:
                if resp.status_code in (401, 403):
                    who = f"as {self.credentials.username!r}" if self.credentials else "anonymously"
                    raise RegistryDenied(f"registry {self.ref.host}: token refused {who}")
                if resp.status_code != 200:
                    raise ImageError(
                        f"registry {self.ref.host}: token service answered {resp.status_code}"
                    )
                data = self._read(resp, MAX_SMALL, f"the token from {realm}")
        except (httpx.HTTPError, httpx.InvalidURL) as e:
            raise RegistryUnreachable(f"token service {realm}: {e}") from None
        body = parse_json(data, f"token from {realm}")
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise ImageError(f"registry {self.ref.host}: the token service gave no token")
        return token

    def _fail(self, resp: httpx.Response, what: str) -> ImageError:
        try:
            body = self._read(resp, MAX_SMALL, "the error")
            errors = parse_json(body, "error").get("errors") or []
            detail = "; ".join(str(e.get("message") or e.get("code")) for e in errors)
        except (ImageError, AttributeError, TypeError):
            detail = ""
        detail = detail or resp.reason_phrase or str(resp.status_code)
        if resp.status_code == 404:
            return ImageNotFound(f"{what}: not found ({detail})")
        if resp.status_code in (401, 403):
            return RegistryDenied(f"{what}: registry answered {resp.status_code} ({detail})")
        return ImageError(f"{what}: registry answered {resp.status_code} ({detail})")

    def _unreachable(self, e: httpx.TransportError) -> RegistryUnreachable:
        if isinstance(e, httpx.TimeoutException):
            return RegistryUnreachable(f"registry {self.ref.host}: timed out")
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        return RegistryUnreachable(f"cannot reach registry {self.ref.host}: {reason}")

    def _read(self, resp: httpx.Response, limit: int, what: str) -> bytes:
        """The body of *resp*, at most *limit* bytes; a transfer cut short is unreachable."""
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise ImageError(f"{what} is larger than {_size(limit)}")
                chunks.append(chunk)
        except httpx.TransportError as e:
            raise self._unreachable(e) from None
        except httpx.DecodingError:
            raise ImageError(f"{what}: the registry sent a malformed body") from None
        return b"".join(chunks)

    # ------------------------------------------------------------------ pull

    def manifest(self, ref: str | None = None) -> Manifest:
        """The manifest or index at *ref* (tag or digest; default the reference's)."""
        ref = ref or self.ref.ref
        what = f"image {self.ref.with_ref(*_split(ref))}"
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        with self._request("GET", self._url(f"manifests/{ref}"), headers=headers) as resp:
            if resp.status_code != 200:
                raise self._fail(resp, what)
            data = self._read(resp, MAX_MANIFEST, f"the manifest of {what}")
            media = resp.headers.get("Content-Type", "").split(";")[0].strip()
        digest = sha256_digest(data)
        if ref.startswith("sha256:") and digest != ref:
            raise ImageError(f"{what}: the registry served a manifest of digest {digest}")
        media = parse_json(data, f"the manifest of {what}").get("mediaType") or media
        if media not in MANIFEST_TYPES:
            raise ImageError(f"{what}: unsupported manifest type {media!r}")
        return Manifest(data, str(media), digest)

    def manifest_or_none(self, ref: str) -> Manifest | None:
        try:
            return self.manifest(ref)
        except ImageNotFound:
            return None

    def blob(self, digest: str, limit: int = MAX_BLOB) -> bytes:
        """The blob *digest*, checked against it."""
        what = f"blob {digest} of {self.ref}"
        with self._request("GET", self._url(f"blobs/{digest}")) as resp:
            if resp.status_code != 200:
                raise self._fail(resp, what)
            data = self._read(resp, limit, what)
        if sha256_digest(data) != digest:
            raise ImageError(f"{what}: the registry served other content (digest mismatch)")
        return data

    # ------------------------------------------------------------------ push

    def has_blob(self, digest: str) -> bool:
        with self._request("HEAD", self._url(f"blobs/{digest}")) as resp:
            return resp.status_code == 200

    def push_blob(self, data: bytes) -> str:
        digest = sha256_digest(data)
        if self.has_blob(digest):
            return digest
        what = f"upload to {self.ref.host}/{self.ref.repository}"
        with self._request("POST", self._url("blobs/uploads/")) as resp:
            if resp.status_code not in (201, 202):
                raise self._fail(resp, what)
            location = resp.headers.get("Location", "")
        if not location:
            raise ImageError(f"{what}: the registry gave no upload location")
        url = str(httpx.URL(self._url("blobs/uploads/")).join(location))
        sep = "&" if "?" in url else "?"
        headers = {"Content-Type": "application/octet-stream"}
        with self._request("PUT", f"{url}{sep}digest={digest}", content=data, headers=headers) as r:
            if r.status_code not in (201, 204):
                raise self._fail(r, what)
        return digest

    def push_manifest(self, data: bytes, media_type: str, ref: str) -> str:
        what = f"push of {self.ref.with_ref(*_split(ref))}"
        headers = {"Content-Type": media_type}
        with self._request(
            "PUT", self._url(f"manifests/{ref}"), content=data, headers=headers
        ) as r:
            if r.status_code not in (200, 201, 202):
                raise self._fail(r, what)
        return sha256_digest(data)


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def _split(ref: str) -> tuple[str | None, str | None]:
    """(tag, digest) of a manifest reference."""
    return (None, ref) if ref.startswith("sha256:") else (ref, None)
