"""eBPF bytecode in OCI images against a real registry (Debian's docker-registry 2.8).

One registry per module (plus one with htpasswd auth, and a small Bearer-token
front in this file): images are built and pushed with ``bpfman image build``
or the library, then pulled, cached and loaded through the CLI.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from bpfman import images
from bpfman.images import build, signing
from bpfman.images.layout import OCI_INDEX
from bpfman.images.reference import parse
from bpfman.images.registry import Registry
from support.registry import LocalRegistry, free_port


@pytest.fixture(scope="module")
def registry() -> Iterator[LocalRegistry]:
    reg = LocalRegistry()
    yield reg
    reg.close()


@pytest.fixture(scope="module")
def basic_image(registry: LocalRegistry, bpf_obj) -> str:
    """tests' basic.bpf.o as a single-arch image, built and pushed by the CLI."""
    from support.cli import Cli

    url = registry.url("tests/basic:v1")
    cli = Cli()
    try:
        out = cli("image", "build", "-t", url, "-b", bpf_obj("basic"), "-o", "json").json()
    finally:
        cli.cleanup()
    assert out["programs"] == {
        "count_kill": "tracepoint", "count_getppid": "tracepoint", "count_raw": "raw_tracepoint"
    }  # fmt: skip
    assert out["maps"] == {"counts": "array", "by_pid": "hash"}
    return url


def pid_hex() -> str:
    return os.getpid().to_bytes(4, "little").hex()


def cache_dir(cli) -> Path:
    return Path(cli.runtime) / "images"


def pull(root: Path, url: str, policy: str = "IfNotPresent", **kw) -> images.PulledImage:
    """The library's pull, in this process (no CLI start-up): the cache under *root*."""
    kw.setdefault("signing_policy", images.SigningPolicy(verify_enabled=False))
    return images.pull(str(root), url, policy, **kw)


def push_object(url: str, obj: str) -> None:
    p = build.plan(build.inputs_from(obj, None, {}))
    build.push(url, build.build(p), multi_arch=False)


# ---------------------------------------------------------------------- load / attach / unload


def test_load_image_attach_count_unload(cli, basic_image) -> None:
    loaded = cli(
        "load", "image", "-i", basic_image, "--programs", "tracepoint:count_kill",
        "-g", f"target_pid={pid_hex()}", "-a", "imgapp", "-o", "json",
    )  # fmt: skip
    assert "is not signed" in loaded.err  # the default policy: unsigned loads, with a warning
    info, kernel = loaded.json()[0]["info"], loaded.json()[0]["kernel_info"]
    prog_id = kernel["id"]
    assert info["bytecode"] == {  # as upstream: the credentials' fields present and empty
        "image": {"url": basic_image, "image_pull_policy": 1, "username": "", "password": ""}
    }
    assert info["metadata"] == {"bpfman_application": "imgapp"}
    link = cli("attach", str(prog_id), "tracepoint", "-t", "syscalls/sys_enter_kill", "-o", "json")
    for _ in range(3):
        os.kill(os.getpid(), 0)
    assert cli.counter(prog_id, 0, "counts") == 3
    text = cli("get", "program", str(prog_id)).out
    assert f"Image URL:     {basic_image}" in text and "Pull Policy:   IfNotPresent" in text
    assert "\n Path:" not in text
    cli("detach", str(link.json()["link_id"]))
    cli("unload", str(prog_id))
    assert cli.pins() == []
    assert cli.db_rows() == {
        "programs": 0, "links": 0, "program_metadata": 0, "program_globals": 0
    }  # fmt: skip


def test_grpc_pull_and_load_an_image(cli, registry, basic_image, tmp_path) -> None:
    """The daemon's PullBytecode and Load with a BytecodeImage: the same cache and checks."""
    import grpc

    from bpfman.server import bpfman_pb2 as pb
    from support.daemon import Daemon

    d = Daemon(cli, str(tmp_path / "bpfman.sock")).ready()
    try:
        image = pb.BytecodeImage(url=basic_image, image_pull_policy=2)  # Never: not cached yet
        with pytest.raises(grpc.RpcError) as e:
            d.stub.PullBytecode(pb.PullBytecodeRequest(image=image))
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "pull policy is Never" in str(e.value.details())
        image.image_pull_policy = 1
        d.stub.PullBytecode(pb.PullBytecodeRequest(image=image))
        missing = pb.BytecodeImage(url=registry.url("tests/none:v1"))
        with pytest.raises(grpc.RpcError) as e:
            d.stub.PullBytecode(pb.PullBytecodeRequest(image=missing))
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
        request = pb.LoadRequest(
            bytecode=pb.BytecodeLocation(image=pb.BytecodeImage(url=basic_image,
                                                                image_pull_policy=2)),
            info=[pb.LoadInfo(name="nope", program_type=pb.TRACEPOINT)],
        )  # fmt: skip
        with pytest.raises(grpc.RpcError) as e:
            d.stub.Load(request)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert f"program nope not in image {basic_image}" in str(e.value.details())
        request.info[0].name = "count_kill"
        request.global_data["target_pid"] = bytes.fromhex(pid_hex())
        (prog,) = d.stub.Load(request).programs
        assert prog.info.bytecode.image.url == basic_image
        assert prog.info.bytecode.image.image_pull_policy == 2
        image = prog.info.bytecode.image
        assert image.HasField("username") and image.username == image.password == ""
        got = d.stub.Get(pb.GetRequest(id=prog.kernel_info.id))
        assert got.info.bytecode.WhichOneof("location") == "image"
        attach = pb.AttachInfo(
            tracepoint_attach_info=pb.TracepointAttachInfo(tracepoint="syscalls/sys_enter_kill")
        )
        link = d.stub.Attach(pb.AttachRequest(id=prog.kernel_info.id, attach=attach))
        for _ in range(2):
            os.kill(os.getpid(), 0)
        assert cli.counter(prog.kernel_info.id, 0, "counts") == 2
        d.stub.Detach(pb.DetachRequest(link_id=link.link_id))
        d.stub.Unload(pb.UnloadRequest(id=prog.kernel_info.id))
    finally:
        assert d.stop() == 0
    assert cli.pins() == []
    assert cli.db_rows()["programs"] == 0


def test_program_not_in_image_or_of_another_type(cli, basic_image) -> None:
    r = cli("load", "image", "-i", basic_image, "--programs", "tracepoint:nope", rc=1)
    assert r.err.strip().endswith(
        f"program nope not in image {basic_image}; it has: count_getppid, count_kill, count_raw"
    )
    r = cli("load", "image", "-i", basic_image, "--programs", "xdp:count_kill", rc=1)
    assert f"program count_kill is a tracepoint program in image {basic_image}, not xdp" in r.err
    assert cli.pins() == [] and cli.db_rows()["programs"] == 0
    with pytest.raises(images.InputError, match="one of Always, IfNotPresent, Never"):
        images.PullPolicy.parse("Sometimes")


def test_bad_reference_and_unreachable_registry(cli, registry, tmp_path) -> None:
    r = cli("load", "image", "-i", "Not A Ref", "--programs", "tracepoint:count_kill", rc=1)
    assert r.err.count("\n") == 1 and "not an image reference" in r.err
    closed = f"127.0.0.1:{free_port()}/tests/basic:v1"
    r = cli("load", "image", "-i", closed, "--programs", "tracepoint:count_kill", rc=1)
    assert r.err.count("\n") == 1 and "cannot reach registry" in r.err
    assert cli.pins() == [] and cli.db_rows()["programs"] == 0
    with pytest.raises(images.ImageNotFound, match="not found"):
        pull(tmp_path, registry.url("tests/missing:v1"))
    for bad in ("a/b@sha256:12", "HOST.io/Upper/case", "x:y:z", "reg.io/a:bad tag"):
        with pytest.raises(images.InputError):
            parse(bad)
    assert (
        str(parse("quay.io/bpfman-bytecode/xdp_pass")) == "quay.io/bpfman-bytecode/xdp_pass:latest"
    )
    assert (
        parse("busybox").host == "registry-1.docker.io"
        and parse("localhost:5000/a").scheme == "http"
    )
    assert not os.path.exists(tmp_path / "images" / "refs")


# ---------------------------------------------------------------------- cache and pull policies


def test_pull_policies(cli, registry, basic_image, tmp_path) -> None:
    with pytest.raises(images.ImageError, match="not in the cache and the pull policy is Never"):
        pull(tmp_path, basic_image, "Never")
    first = pull(tmp_path, basic_image)
    assert not first.from_cache and first.platform == "linux/amd64"
    assert pull(tmp_path, basic_image, "Always").from_cache is False
    registry.stop()
    try:
        again = pull(tmp_path, basic_image, "IfNotPresent")
        assert again.from_cache and again.digest == first.digest
        assert pull(tmp_path, basic_image, "Never").object_path == first.object_path
        with pytest.raises(images.RegistryUnreachable):
            pull(tmp_path, basic_image, "Always")
        # the CLI: Never without the cache fails; a cached image loads with no registry
        r = cli("load", "image", "-i", basic_image, "-p", "Never",
                "--programs", "tracepoint:count_kill", rc=1)  # fmt: skip
        assert r.err.strip() == (
            f"Error: image {basic_image} is not in the cache and the pull policy is Never"
        )
        shutil.copytree(tmp_path / "images", cache_dir(cli))
        loaded = cli("load", "image", "-i", basic_image, "-p", "Never",
                     "--programs", "tracepoint:count_getppid", "-o", "json").json()  # fmt: skip
        assert loaded[0]["info"]["bytecode"]["image"]["image_pull_policy"] == 2
        cli("unload", str(loaded[0]["kernel_info"]["id"]))
    finally:
        registry.start()


def test_tampered_cache_is_refused(cli, basic_image) -> None:
    pull(cache_dir(cli).parent, basic_image)
    (layer_hex,) = os.listdir(cache_dir(cli) / "objects")
    layer = cache_dir(cli) / "blobs" / "sha256" / layer_hex
    data = bytearray(layer.read_bytes())
    data[-20] ^= 0xFF
    layer.write_bytes(bytes(data))
    r = cli("load", "image", "-i", basic_image, "--programs", "tracepoint:count_kill", rc=1)
    assert r.err.count("\n") == 1  # one line, no unsigned warning before it
    assert f"image {basic_image}: the cached blob sha256:{layer_hex}" in r.err
    assert "tampered" in r.err
    assert cli.pins() == [] and cli.db_rows()["programs"] == 0
    with pytest.raises(images.TamperedCache):
        pull(cache_dir(cli).parent, basic_image, "Never")
    pull(cache_dir(cli).parent, basic_image, "Always")  # fetched again: repaired
    assert pull(cache_dir(cli).parent, basic_image, "Never").from_cache


def test_the_loaded_manifest_is_recorded_and_reread_from_the_cache(cli, basic_image) -> None:
    """What a dispatcher reloads an image-loaded program from: the manifest it was loaded
    from (the tag may move), read from the cache and checked again."""
    from bpfman.manager.core import Manager

    loaded = cli("load", "image", "-i", basic_image, "--programs", "tracepoint:count_kill",
                 "-o", "json").json()  # fmt: skip
    prog_id = loaded[0]["kernel_info"]["id"]
    root = str(cache_dir(cli).parent)
    with Manager(cli.runtime) as mgr:
        rec = mgr.store.program(prog_id)
    assert rec is not None and rec.path is None
    assert rec.image_digest == pull(Path(root), basic_image, "Never").manifest_digest
    path = images.object_of(root, basic_image, rec.image_digest)
    with open(path, "rb") as f, open(pull(Path(root), basic_image).object_path, "rb") as g:
        assert f.read() == g.read()
    (layer_hex,) = os.listdir(cache_dir(cli) / "objects")
    layer = cache_dir(cli) / "blobs" / "sha256" / layer_hex
    good = layer.read_bytes()
    layer.write_bytes(good[:-20] + bytes(20))
    with pytest.raises(images.TamperedCache):
        images.object_of(root, basic_image, rec.image_digest)
    layer.unlink()
    with pytest.raises(images.ImageError, match="no longer in the cache"):
        images.object_of(root, basic_image, rec.image_digest)
    with pytest.raises(images.ImageError, match="no longer in the cache"):
        images.object_of(root, basic_image, "sha256:" + "0" * 64)
    layer.write_bytes(good)
    cli("unload", str(prog_id))


# ---------------------------------------------------------------------- multi-arch, ELF checks


def test_multi_arch_index_picks_the_host(cli, registry, bpf_obj, tmp_path) -> None:
    url = registry.url("tests/multi:v1")
    built = cli("image", "build", "-t", url, "--bc-amd64-el", bpf_obj("basic"),
                "--bc-arm64-el", bpf_obj("tracing"), "-o", "json").json()  # fmt: skip
    assert set(built["platforms"]) == {"linux/amd64", "linux/arm64"}
    with Registry(parse(url)) as reg:
        top = reg.manifest()
    assert top.media_type == OCI_INDEX and top.digest == built["digest"]
    pulled = cli("image", "pull", "-i", url, "-o", "json").json()
    assert pulled["platform"] == "linux/amd64"
    assert pulled["digest"] == built["digest"]
    assert pulled["manifest_digest"] == built["platforms"]["linux/amd64"]
    assert "count_kill" in pulled["programs"] and pulled["object"] == "basic.bpf.o"
    arm_only = registry.url("tests/arm-only:v1")
    p = build.plan(build.inputs_from(None, None, {"BC_ARM64_EL": bpf_obj("tracing")}))
    build.push(arm_only, build.build(p), multi_arch=True)
    with pytest.raises(images.ImageError) as e:
        pull(tmp_path, arm_only)
    assert str(e.value) == f"image {arm_only} has no linux/amd64 bytecode (platforms: linux/arm64)"


def _patched(path: str, endian: int | None = None, machine: int | None = None) -> bytes:
    data = bytearray(Path(path).read_bytes())
    if endian is not None:  # a big-endian header: EI_DATA 2, e_machine EM_BPF big-endian
        data[5] = endian
        data[18:20] = (247).to_bytes(2, "big")
    if machine is not None:
        data[18:20] = machine.to_bytes(2, "little")
    return bytes(data)


def test_wrong_endian_or_machine_refused(cli, registry, bpf_obj, tmp_path) -> None:
    labels = {"io.ebpf.programs": '{"count_kill":"tracepoint"}', "io.ebpf.maps": "{}"}
    cases = {
        "tests/big-endian:v1": (_patched(bpf_obj("basic"), endian=2), "is big-endian eBPF"),
        "tests/x86-object:v1": (_patched(bpf_obj("basic"), machine=62), "ELF machine x86-64"),
    }
    for name, (obj, _) in cases.items():
        img = build.make_image("linux/amd64", "prog.o", obj, labels)
        build.push(registry.url(name), [img], multi_arch=False)
    url = registry.url("tests/big-endian:v1")
    r = cli("load", "image", "-i", url, "--programs", "tracepoint:count_kill", rc=1)
    assert f"the object prog.o of image {url} is big-endian eBPF bytecode" in r.err
    assert cli.pins() == [] and cli.db_rows()["programs"] == 0
    url = registry.url("tests/x86-object:v1")
    with pytest.raises(images.NotBytecode, match=r"is not eBPF bytecode \(ELF machine x86-64"):
        pull(tmp_path, url)
    (tmp_path / "be.o").write_bytes(_patched(bpf_obj("basic"), endian=2))
    with pytest.raises(images.InputError, match="big-endian eBPF bytecode; this needs little"):
        build.plan(build.inputs_from(str(tmp_path / "be.o"), None, {}))
    # the other byte order is what a BC_*_EB slot needs (labels from the host's object)
    slots = {"BC_AMD64_EL": bpf_obj("basic"), "BC_S390X_EB": str(tmp_path / "be.o")}
    p = build.plan(build.inputs_from(None, None, slots))
    assert p.labels[0] == p.labels[1]


def test_build_refuses_a_fifo_or_device(cli, tmp_path) -> None:
    """A FIFO as the bytecode hung `image build` (a blocking open); a device is no file."""
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero"):
        r = cli("image", "build", "-t", "127.0.0.1:1/tests/x:v1", "-b", path, rc=1)
        assert r.err.strip() == f"Error: BYTECODE_FILE {path}: not a regular file", r.err


# ---------------------------------------------------------------------- build args


def test_generate_build_args(cli, bpf_obj, tmp_path) -> None:
    out = cli("image", "generate-build-args", "-b", bpf_obj("basic")).out.splitlines()
    assert out == [
        f"BYTECODE_FILE={bpf_obj('basic')}",
        'PROGRAMS={"count_kill":"tracepoint","count_raw":"raw_tracepoint",'
        '"count_getppid":"tracepoint"}',
        'MAPS={"counts":"array","by_pid":"hash"}',
    ]
    # a cilium/ebpf project: bpf2go's <name>_<arch>_<bpfel|bpfeb>.o names
    for name in ("prog_x86_bpfel.o", "prog_arm64_bpfel.o"):
        shutil.copy(bpf_obj("basic"), tmp_path / name)
    out = cli("image", "generate-build-args", "-c", str(tmp_path)).out.splitlines()
    assert out[:2] == [
        f"BC_AMD64_EL={tmp_path / 'prog_x86_bpfel.o'}",
        f"BC_ARM64_EL={tmp_path / 'prog_arm64_bpfel.o'}",
    ]
    r = cli("image", "generate-build-args", "-b", bpf_obj("basic"),
            "--bc-amd64-el", bpf_obj("basic"), rc=2)  # fmt: skip
    assert r.err.count("\n") == 1 and "exactly one of" in r.err
    with pytest.raises(images.InputError, match="little-endian eBPF bytecode; this needs big"):
        build.plan(build.inputs_from(None, None, {"BC_S390X_EB": bpf_obj("basic")}))
    with pytest.raises(images.InputError, match="No such file or directory"):
        build.inputs_from(None, str(tmp_path / "empty-dir-missing"), {})
    # the CLI writes the --bc-* options out (its --help imports no bpfman.images): the same slots
    from bpfman.cli.images import _SLOT_OPTIONS
    from bpfman.images.platform import SLOTS

    assert [f"--bc-{arch}-{endian}" for arch, endian in _SLOT_OPTIONS] == [s.option for s in SLOTS]


# ---------------------------------------------------------------------- registry auth


@pytest.fixture(scope="module")
def auth_registry() -> Iterator[LocalRegistry]:
    bcrypt = pytest.importorskip("bcrypt", reason="bcrypt (a dev dependency) makes the htpasswd")
    line = "tester:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4, prefix=b"2a")).decode()
    reg = LocalRegistry(htpasswd=line + "\n")
    yield reg
    reg.close()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_basic_auth_registry(cli, auth_registry, bpf_obj, tmp_path) -> None:
    url = auth_registry.url("tests/private:v1")
    auth = b64("tester:s3cret")
    with pytest.raises(images.RegistryDenied, match="requires credentials"):
        push_object(url, bpf_obj("basic"))
    cli("image", "build", "-t", url, "-b", bpf_obj("basic"), "--registry-auth", auth)
    r = cli("load", "image", "-i", url, "--programs", "tracepoint:count_kill", rc=1)
    assert r.err == f"Error: registry {auth_registry.host} requires credentials (--registry-auth)\n"
    wrong = images.Credentials("tester", "wrong")
    with pytest.raises(images.RegistryDenied, match="refused the credentials of 'tester'"):
        pull(tmp_path, url, credentials=wrong)
    with pytest.raises(images.InputError, match="--registry-auth"):
        images.Credentials.from_base64("%%%")
    loaded = cli("load", "image", "-i", url, "-r", auth,
                 "--programs", "tracepoint:count_kill", "-o", "json").json()  # fmt: skip
    # the echo has the credentials' fields present and empty, never the credentials
    assert loaded[0]["info"]["bytecode"] == {
        "image": {"url": url, "image_pull_policy": 1, "username": "", "password": ""}
    }
    cli("unload", str(loaded[0]["kernel_info"]["id"]))
    assert cli.pins() == []


def test_grpc_load_with_credentials_echoes_none(cli, auth_registry, bpf_obj, tmp_path) -> None:
    from bpfman.server import bpfman_pb2 as pb
    from support.daemon import Daemon

    url = auth_registry.url("tests/private-grpc:v1")
    auth = b64("tester:s3cret")
    cli("image", "build", "-t", url, "-b", bpf_obj("basic"), "--registry-auth", auth)
    d = Daemon(cli, str(tmp_path / "bpfman.sock")).ready()
    try:
        image = pb.BytecodeImage(url=url, image_pull_policy=0, username="tester", password="s3cret")
        request = pb.LoadRequest(bytecode=pb.BytecodeLocation(image=image),
                                 info=[pb.LoadInfo(name="count_kill", program_type=pb.TRACEPOINT)])
        (prog,) = d.stub.Load(request).programs
        got = d.stub.Get(pb.GetRequest(id=prog.kernel_info.id))
        for echoed in (prog.info.bytecode.image, got.info.bytecode.image):
            assert echoed.url == url and echoed.image_pull_policy == 0
            assert echoed.HasField("username") and echoed.HasField("password")
            assert echoed.username == echoed.password == ""
        d.stub.Unload(pb.UnloadRequest(id=prog.kernel_info.id))
    finally:
        d.stop()
    assert cli.pins() == []


class TokenFront:
    """A Bearer-token front for a registry, as quay.io or Docker Hub put before theirs:
    ``/v2/`` answers 401 with a Bearer challenge unless the token from ``/token``
    (given for Basic credentials) comes along; then the request goes to the registry."""

    def __init__(self, backend: LocalRegistry, user: str, password: str) -> None:
        self.token = uuid.uuid4().hex
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.scopes: list[str] = []
        front = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._handle()

            def do_HEAD(self) -> None:
                self._handle()

            def _handle(self) -> None:
                if self.path.startswith("/token"):
                    good = "Basic " + b64(f"{user}:{password}")
                    if self.headers.get("Authorization") != good:
                        return self._reply(401, b"{}", {})
                    front.scopes.append(httpx.URL(self.path).params.get("scope", ""))
                    body = json.dumps({"token": front.token}).encode()
                    return self._reply(200, body, {"Content-Type": "application/json"})
                if self.headers.get("Authorization") != f"Bearer {front.token}":
                    challenge = (f'Bearer realm="http://{front.host}/token",service="test",'
                                 'scope="repository:tests/token:pull"')  # fmt: skip
                    return self._reply(401, b"{}", {"WWW-Authenticate": challenge})
                headers = {k: v for k, v in self.headers.items() if k.lower() == "accept"}
                r = httpx.request(self.command, f"http://{backend.host}{self.path}",
                                  headers=headers)  # fmt: skip
                keep = ("content-type", "docker-content-digest")
                self._reply(r.status_code, r.content,
                            {k: v for k, v in r.headers.items() if k.lower() in keep})  # fmt: skip

            def _reply(self, code: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(code)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def test_bearer_token_registry(registry, bpf_obj, tmp_path) -> None:
    push_object(registry.url("tests/token:v1"), bpf_obj("basic"))
    front = TokenFront(registry, "robot", "t0ken")
    try:
        url = f"{front.host}/tests/token:v1"
        with pytest.raises(images.ImageError, match=f"registry {front.host}: token refused anon"):
            pull(tmp_path, url)
        pulled = pull(tmp_path, url, credentials=images.Credentials("robot", "t0ken"))
        assert "count_kill" in pulled.labels.programs
        assert front.scopes == ["repository:tests/token:pull"]  # one token, reused
    finally:
        front.close()


def test_misbehaving_registry_is_one_line_error(cli, tmp_path) -> None:
    """A manifest cut short is an unreachable registry; an error body is read only so far; a
    descriptor size that is no byte count is one line."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.endswith("/manifests/badsize"):  # a size that is no byte count
                digest = "sha256:" + "0" * 64
                body = json.dumps({
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": digest, "size": "abc"},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                "digest": digest, "size": "abc"}],
                }).encode()  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            cut = self.path.endswith("/manifests/cut")
            self.send_response(200 if cut else 500)
            self.send_header("Content-Length", str(1000 if cut else 8 << 20))
            self.end_headers()
            self.wfile.write(b"{" * 10 if cut else b" " * (8 << 20))

    class Server(ThreadingHTTPServer):
        def handle_error(self, *args: object) -> None:
            pass  # the client hangs up on the oversized body

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    host = f"127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(images.RegistryUnreachable, match=f"cannot reach registry {host}"):
            pull(tmp_path, f"{host}/tests/misbehave:cut")
        with pytest.raises(images.ImageError, match=r"registry answered 500 \(Internal Server"):
            pull(tmp_path, f"{host}/tests/misbehave:big-error")
        with pytest.raises(images.ImageError, match="size 'abc' is not a byte count"):
            pull(tmp_path, f"{host}/tests/misbehave:badsize")
        r = cli("image", "pull", "-i", f"{host}/tests/misbehave:badsize", rc=1)
        assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1, r.err
        assert "is not a byte count" in r.err, r.err
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ---------------------------------------------------------------------- signatures


def _key_pair(tmp_path: Path, name: str):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / f"{name}.pub").write_bytes(pem)
    return key, str(tmp_path / f"{name}.pub")


def _sign(url: str, key) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    ref = parse(url)
    with Registry(ref, push=True) as reg:
        digest = reg.manifest().digest
        payload = signing.simple_signing_payload(f"{ref.registry}/{ref.repository}", digest)
        signing.attach_signature(reg, digest, payload, key.sign(payload, ec.ECDSA(hashes.SHA256())))
    return digest


def test_cosign_signatures(cli, registry, bpf_obj, tmp_path) -> None:
    signed, forged, unsigned = (registry.url(f"tests/{n}:v1") for n in ("signed", "forged", "un"))
    push_object(signed, bpf_obj("basic"))
    push_object(forged, bpf_obj("tracing"))
    push_object(unsigned, bpf_obj("maps"))
    key, pub = _key_pair(tmp_path, "trusted")
    other, _ = _key_pair(tmp_path, "other")
    _sign(signed, key)
    _sign(forged, other)
    strict = images.SigningPolicy(allow_unsigned=False, public_keys=(pub,))
    root = tmp_path / "rt"
    assert pull(root, signed, signing_policy=strict).signature == "verified"
    with pytest.raises(images.SignatureError, match=f"image {forged}: its cosign signature"):
        pull(root, forged, signing_policy=strict)
    with pytest.raises(images.SignatureError) as e:
        pull(root, unsigned, signing_policy=strict)
    assert str(e.value) == f"image {unsigned} is not signed, and [signing] allow_unsigned is false"
    # without keys a signature cannot be verified here: as unsigned (allowed: a warning)
    lax = images.SigningPolicy()
    assert pull(root, signed, "Always", signing_policy=lax).signature == "unverifiable"
    with pytest.raises(images.SignatureError, match="cannot be verified here"):
        pull(root, signed, "Always", signing_policy=images.SigningPolicy(allow_unsigned=False))
    assert pull(root, forged, "Always").signature == "not-checked"
    # the config file's [signing] table, through the CLI
    config = tmp_path / "bpfman.toml"
    config.write_text(f'[signing]\nallow_unsigned = false\npublic_keys = ["{pub}"]\n')
    ok = cli("--config", str(config), "image", "pull", "-i", signed, "-o", "json")
    assert ok.json()["signature"] == "verified" and ok.err == ""
    r = cli("--config", str(config), "load", "image", "-i", unsigned,
            "--programs", "tracepoint:count_kill", rc=1)  # fmt: skip
    assert r.err == (
        f"Error: image {unsigned} is not signed, and [signing] allow_unsigned is false\n"
    )


# ---------------------------------------------------------------------- labels, formats


def test_labels_old_style_and_type_families(registry, bpf_obj, tmp_path) -> None:
    from bpfman.images import labels as lb
    from bpfman.images.platform import host_goarch, slot_for_cilium
    from bpfman.images.registry import parse_challenge
    from bpfman.manager.parse import program_requests

    old = {"io.ebpf.bpf_function_name": "count_kill", "io.ebpf.program_type": "tracepoint",
           "io.ebpf.program_name": "kill_counter", "io.ebpf.filename": "basic.bpf.o"}  # fmt: skip
    url = registry.url("tests/old-labels:v1")
    obj = Path(bpf_obj("basic")).read_bytes()
    build.push(url, [build.make_image("linux/amd64", "basic.bpf.o", obj, old)], multi_arch=False)
    assert pull(tmp_path, url).labels == lb.Labels({"count_kill": "tracepoint"}, {})
    # no labels at all: computed from the object
    url = registry.url("tests/no-labels:v1")
    build.push(url, [build.make_image("linux/amd64", "basic.bpf.o", obj, {})], multi_arch=False)
    assert pull(tmp_path, url).labels == lb.from_object(bpf_obj("basic"))
    have = lb.Labels({"k": "kretprobe", "u": "uprobe", "t": "tc"})
    lb.check_requests(have, program_requests(["kprobe:k uretprobe:u tcx:t"]), "img")
    with pytest.raises(images.InputError, match="program u is a uprobe program in image img"):
        lb.check_requests(have, program_requests(["kprobe:u"]), "img")
    with pytest.raises(images.ImageError, match=r"label io\.ebpf\.programs is not JSON"):
        lb.from_config({"io.ebpf.programs": "{nope"}, "img")
    assert lb.program_type_word("tcx/ingress", 0) == "tc"  # upstream's kernel-type words
    assert lb.map_type_word("LRU_PERCPU_HASH") == "lru_per_cpu_hash"
    challenge = 'Bearer realm="https://a/token",service="r",scope="repository:x:pull,push"'
    assert parse_challenge(challenge) == (
        "bearer", {"realm": "https://a/token", "service": "r", "scope": "repository:x:pull,push"}
    )  # fmt: skip
    assert host_goarch("aarch64") == "arm64" and host_goarch("x86_64") == "amd64"
    assert slot_for_cilium("powerpc", "bpfeb").goarch == "ppc64"  # type: ignore[union-attr]
    assert slot_for_cilium("x86", "bpfel").build_arg == "BC_AMD64_EL"  # type: ignore[union-attr]
