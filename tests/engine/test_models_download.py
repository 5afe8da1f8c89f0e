"""Downloads against a real HTTP server on 127.0.0.1 that behaves like the Hugging Face hub: LFS files redirect to
a CDN with their SHA-256 in X-Linked-Etag, small files carry their git blob SHA-1 as ETag, Range requests resume,
and the server can cut a connection mid-file or serve corrupted bytes. Nothing here touches the real network."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.errors import ModelError
from engine.models.catalogue import Catalogue
from engine.models.download import DownloadError, download_model
from engine.models.store import MANIFEST, ModelStore, sha256_file

COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPO = "tester/tiny-captioner"


class ModelServer:
    """A hub-like file server in a thread. ``files`` maps "repo/path" to bytes; ``requests`` logs what was asked."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.lfs: set[str] = set()
        self.cut: dict[str, tuple[int, int]] = {}  # key -> (bytes sent before cutting, how many more times)
        self.corrupt: set[str] = set()
        self.no_checksum: set[str] = set()
        self.ignore_range = False
        self.requests: list[tuple[str, str | None]] = []
        self.by_sha: dict[str, str] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.handle(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def add(self, path: str, data: bytes, *, lfs: bool = True, repo: str = REPO) -> bytes:
        key = f"{repo}/{path}"
        self.files[key] = data
        if lfs:
            self.lfs.add(key)
        self.by_sha[hashlib.sha256(data).hexdigest()] = key
        return data

    def requested(self, path: str) -> list[str | None]:
        """The Range headers of the requests for one file (None: a whole-file request)."""
        return [rng for key, rng in self.requests if key.endswith("/" + path)]

    def handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        rng = None if self.ignore_range else h.headers.get("Range")
        if h.path.startswith("/cdn/"):
            key = self.by_sha.get(h.path[len("/cdn/"):])
            self.requests.append((f"cdn:{key}", rng))
            return self.send_body(h, key, rng, {})
        parts = h.path.lstrip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve" or parts[3] not in ("main", COMMIT):
            h.send_error(404)
            return
        key = "/".join(parts[:2]) + "/" + "/".join(parts[4:])
        self.requests.append((f"{parts[3]}:{key}", rng))
        if key not in self.files:
            h.send_error(404)
            return
        data = self.files[key]
        extra = {"X-Repo-Commit": COMMIT}
        if key in self.lfs and key not in self.no_checksum:
            sha = hashlib.sha256(data).hexdigest()
            h.send_response(302)
            h.send_header("Location", f"{self.url}/cdn/{sha}")
            h.send_header("X-Linked-Etag", f'"{sha}"')
            h.send_header("X-Linked-Size", str(len(data)))
            h.send_header("X-Repo-Commit", COMMIT)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if key not in self.no_checksum:
            blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            extra["ETag"] = f'"{blob}"'
        self.send_body(h, key, rng, extra)

    def send_body(self, h: http.server.BaseHTTPRequestHandler, key: str | None, rng: str | None,
                  extra: dict[str, str]) -> None:
        if key is None:
            h.send_error(404)
            return
        data = self.files[key]
        if key in self.corrupt:
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        start = int(rng.split("=")[1].split("-")[0]) if rng else 0
        if start >= len(data) and rng:
            h.send_response(416)
            h.send_header("Content-Range", f"bytes */{len(data)}")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        body = data[start:]
        h.send_response(206 if rng else 200)
        if rng:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.send_header("Content-Length", str(len(body)))
        for name, value in extra.items():
            h.send_header(name, value)
        h.end_headers()
        cut, times = self.cut.get(key, (0, 0))
        if times > 0:
            self.cut[key] = (cut, times - 1)
            h.wfile.write(body[:cut])
            h.wfile.flush()
            h.connection.shutdown(socket.SHUT_RDWR)  # the connection dies mid-file
            h.close_connection = True
            return
        h.wfile.write(body)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def tiny_onnx(pad_floats: int = 0, seed: int = 0) -> bytes:
    """A real ONNX graph (y = x + c) that onnxruntime can load; ``pad_floats`` makes the file bigger."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    const = numpy_helper.from_array(rng.standard_normal(max(pad_floats, 4)).astype(np.float32), "c")
    graph = helper.make_graph(
        [helper.make_node("Slice", ["c", "starts", "ends"], ["c4"]), helper.make_node("Add", ["x", "c4"], ["y"])],
        "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        [const, numpy_helper.from_array(np.array([0], np.int64), "starts"),
         numpy_helper.from_array(np.array([4], np.int64), "ends")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.fixture(scope="module")
def payloads() -> dict[str, bytes]:
    return {
        "config.json": json.dumps({"model_type": "vision-encoder-decoder"}).encode(),
        "tokenizer.json": json.dumps({"version": "1.0", "model": {"type": "WordLevel"}}).encode(),
        "onnx/encoder_model.onnx": tiny_onnx(4, seed=1),
        "onnx/decoder_model_merged.onnx": tiny_onnx(300_000, seed=2),  # ~1.2 MB: several chunks
        "onnx/decoder_model_merged_quantized.onnx": tiny_onnx(50_000, seed=3),
    }


@pytest.fixture
def server(payloads: dict[str, bytes]) -> Iterator[ModelServer]:
    hub = ModelServer()
    for path, data in payloads.items():
        hub.add(path, data, lfs=path.endswith(".onnx"))
    yield hub
    hub.close()


def write_catalogue(folder: Path, url: str, payloads: dict[str, bytes], *, pin: bool = True,
                    extra_files: list[dict[str, Any]] | None = None) -> Path:
    """A catalogue like resources/models.json for the tiny model: the encoder pinned by hash, the rest not."""
    encoder = payloads["onnx/encoder_model.onnx"]
    files = [
        {"path": "config.json", "sha256": None, "size": None},
        {"path": "tokenizer.json", "sha256": None, "size": None},
        {"path": "onnx/encoder_model.onnx", "sha256": hashlib.sha256(encoder).hexdigest() if pin else None,
         "size": len(encoder) if pin else None},
        {"path": "onnx/decoder_model_merged.onnx", "variant": "fp32", "sha256": None, "size": None},
        {"path": "onnx/decoder_model_merged_quantized.onnx", "variant": "int8", "sha256": None, "size": None},
        *(extra_files or []),
    ]
    catalogue = {"models": [
        {"name": "tiny-captioner", "task": "image-to-text", "repo": REPO, "revision": "main",
         "url": url + "/{repo}/resolve/{revision}/{path}", "licence": "MIT", "description": "test model",
         "default_variant": "fp32", "files": files},
        {"name": "tiny-voice", "task": "tts-llm", "repo": REPO, "revision": "main",
         "url": url + "/{repo}/resolve/{revision}/{path}", "licence": "MIT", "description": "test",
         "files": [{"path": "config.json", "sha256": None, "size": None}]},
    ]}
    path = folder / "catalogue.json"
    path.write_text(json.dumps(catalogue))
    return path


@pytest.fixture
def store(tmp_path: Path, server: ModelServer, payloads: dict[str, bytes]) -> ModelStore:
    catalogue = Catalogue.load(write_catalogue(tmp_path, server.url, payloads))
    return ModelStore(tmp_path / "models", catalogue)


def test_download_installs_verified_files_that_onnxruntime_loads(store: ModelStore, server: ModelServer,
                                                                payloads: dict[str, bytes]) -> None:
    import onnxruntime as ort

    model = download_model(store, "tiny-captioner", retries=0)
    folder = store.require("tiny-captioner", task="image-to-text")
    assert folder == store.root / "tiny-captioner"
    assert {f.path for f in model.files} == {"config.json", "tokenizer.json", "onnx/encoder_model.onnx",
                                             "onnx/decoder_model_merged.onnx"}  # the fp32 variant only
    for file in model.files:
        assert (folder / file.path).read_bytes() == payloads[file.path]
        assert file.sha256 == hashlib.sha256(payloads[file.path]).hexdigest()
    assert not list(folder.rglob("*.part"))
    # The branch name was pinned to the commit the hub reported, for every later file.
    assert model.revision == COMMIT
    assert server.requested("config.json") == [None]
    assert any(key.startswith(f"{COMMIT}:") for key, _ in server.requests)
    session = ort.InferenceSession(str(folder / "onnx/decoder_model_merged.onnx"), providers=["CPUExecutionProvider"])
    out = session.run(None, {"x": np.zeros(4, np.float32)})[0]
    assert out.shape == (4,)
    assert store.verify("tiny-captioner").ok
    # Asking again is a no-op that keeps the installed files.
    before = len(server.requests)
    download_model(store, "tiny-captioner")
    assert len(server.requests) == before


def test_cut_connection_resumes_with_a_range_request(store: ModelStore, server: ModelServer,
                                                     payloads: dict[str, bytes]) -> None:
    key = f"{REPO}/onnx/decoder_model_merged.onnx"
    server.cut[key] = (400_000, 2)  # cut twice, mid-file
    download_model(store, "tiny-captioner", retries=3)
    ranges = [r for k, r in server.requests if k == f"cdn:{key}"]
    assert ranges[0] is None and ranges[1:] == ["bytes=400000-", "bytes=800000-"]
    folder = store.require("tiny-captioner")
    assert (folder / "onnx/decoder_model_merged.onnx").read_bytes() == payloads["onnx/decoder_model_merged.onnx"]


def test_a_half_written_store_is_never_used_and_is_recovered(store: ModelStore, server: ModelServer,
                                                             payloads: dict[str, bytes]) -> None:
    key = f"{REPO}/onnx/decoder_model_merged.onnx"
    server.cut[key] = (500_000, 99)  # the network keeps dying on the big file
    with pytest.raises(DownloadError, match=r"kept failing.*resumes"):
        download_model(store, "tiny-captioner", retries=1)
    folder = store.root / "tiny-captioner"
    part = folder / "onnx/decoder_model_merged.onnx.part"
    assert part.stat().st_size == 1_000_000  # two attempts, each resumed where the last was cut
    assert not (folder / "onnx/decoder_model_merged.onnx").exists()
    assert store.state("tiny-captioner") == "partial"
    assert store.installed() == [] and store.partial() == ["tiny-captioner"]
    with pytest.raises(ModelError, match=r"only partly downloaded.*models download tiny-captioner"):
        store.require("tiny-captioner")
    assert store.verify("tiny-captioner").state == "partial"

    # The next run keeps the verified small files and resumes the big one where the .part ends.
    server.cut.clear()
    server.requests.clear()
    download_model(store, "tiny-captioner", retries=0)
    assert server.requested("config.json") == [] and server.requested("tokenizer.json") == []
    assert [r for k, r in server.requests if k == f"cdn:{key}"] == ["bytes=1000000-"]
    assert store.verify("tiny-captioner").ok


def test_unverified_leftovers_are_not_trusted(store: ModelStore, server: ModelServer) -> None:
    """A file that a crash left in place without a journal entry is fetched again, not adopted."""
    folder = store.root / "tiny-captioner"
    (folder / "onnx").mkdir(parents=True)
    (folder / "tokenizer.json").write_bytes(b"left over by something else")
    download_model(store, "tiny-captioner")
    assert server.requested("tokenizer.json") == [None]
    assert store.verify("tiny-captioner").ok


def test_a_corrupted_download_is_detected_deleted_and_never_used(store: ModelStore, server: ModelServer) -> None:
    key = f"{REPO}/onnx/decoder_model_merged.onnx"
    server.corrupt.add(key)
    with pytest.raises(DownloadError, match=r"corrupted.*checksum.*deleted"):
        download_model(store, "tiny-captioner", retries=0)
    folder = store.root / "tiny-captioner"
    assert not (folder / "onnx/decoder_model_merged.onnx").exists()
    assert not (folder / "onnx/decoder_model_merged.onnx.part").exists()
    with pytest.raises(ModelError, match=r"partly downloaded"):
        store.require("tiny-captioner")
    server.corrupt.clear()
    download_model(store, "tiny-captioner")
    assert store.verify("tiny-captioner").ok


def test_a_pinned_hash_beats_the_servers_word(tmp_path: Path, server: ModelServer,
                                              payloads: dict[str, bytes]) -> None:
    """A mirror that swaps a pinned file (and announces the swapped file's own hash) is still refused."""
    server.add("onnx/encoder_model.onnx", tiny_onnx(4, seed=99))
    store = ModelStore(tmp_path / "models", Catalogue.load(write_catalogue(tmp_path, server.url, payloads)))
    with pytest.raises(DownloadError, match=r"corrupted"):
        download_model(store, "tiny-captioner", retries=0)
    assert not (store.root / "tiny-captioner/onnx/encoder_model.onnx").exists()


def test_a_small_file_is_checked_against_its_git_etag(store: ModelStore, server: ModelServer) -> None:
    server.corrupt.add(f"{REPO}/config.json")
    with pytest.raises(DownloadError, match=r"config.json is corrupted"):
        download_model(store, "tiny-captioner", retries=0)


def test_a_file_without_any_checksum_is_refused(store: ModelStore, server: ModelServer) -> None:
    server.no_checksum.add(f"{REPO}/config.json")
    with pytest.raises(DownloadError, match=r"cannot be verified"):
        download_model(store, "tiny-captioner", retries=0)
    assert not (store.root / "tiny-captioner/config.json").exists()


def test_variants_add_files_to_an_installed_model(store: ModelStore, server: ModelServer) -> None:
    download_model(store, "tiny-captioner")
    model = download_model(store, "tiny-captioner", variant="int8")
    assert "onnx/decoder_model_merged_quantized.onnx" in {f.path for f in model.files}
    assert "onnx/decoder_model_merged.onnx" in {f.path for f in model.files}
    assert model.variant == "fp32,int8"
    with pytest.raises(ModelError, match=r"no variant 'fp16'"):
        download_model(store, "tiny-captioner", variant="fp16")


def test_not_found_is_a_plain_error(tmp_path: Path, server: ModelServer, payloads: dict[str, bytes]) -> None:
    path = write_catalogue(tmp_path, server.url, payloads, extra_files=[{"path": "missing.bin"}])
    store = ModelStore(tmp_path / "models", Catalogue.load(path))
    with pytest.raises(DownloadError, match=r"missing.bin was not found at 127\.0\.0\.1:\d+ \(HTTP 404\)"):
        download_model(store, "tiny-captioner", retries=0)


def test_an_optional_file_the_server_lacks_is_skipped(tmp_path: Path, server: ModelServer,
                                                      payloads: dict[str, bytes]) -> None:
    path = write_catalogue(tmp_path, server.url, payloads, extra_files=[{"path": "maybe.json", "optional": True}])
    store = ModelStore(tmp_path / "models", Catalogue.load(path))
    model = download_model(store, "tiny-captioner", retries=0)
    assert server.requested("maybe.json") == [None]
    assert "maybe.json" not in {f.path for f in model.files} and store.verify("tiny-captioner").ok


def test_no_network_is_a_plain_error_and_leaves_nothing(tmp_path: Path, payloads: dict[str, bytes]) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = ModelStore(tmp_path / "models",
                       Catalogue.load(write_catalogue(tmp_path, f"http://127.0.0.1:{port}", payloads)))
    with pytest.raises(DownloadError, match=r"127.0.0.1 refused the connection, so tiny-captioner/\S+ was not"):
        download_model(store, "tiny-captioner", retries=0)
    assert store.state("tiny-captioner") == "missing"


def test_mirror_setting_redirects_every_file(tmp_path: Path, server: ModelServer, payloads: dict[str, bytes],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_catalogue(tmp_path, "https://huggingface.invalid", payloads)
    monkeypatch.setenv("SPACEVOICE_MODEL_MIRROR", server.url + "/")
    store = ModelStore(tmp_path / "models", Catalogue.load(path))
    download_model(store, "tiny-captioner")
    assert store.verify("tiny-captioner").ok


def test_disk_full_is_a_plain_error(store: ModelStore, server: ModelServer) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    folder = store.root / "tiny-captioner" / "onnx"
    folder.mkdir(parents=True)
    # The kernel's /dev/full answers every write with ENOSPC: a real full disk for this one file.
    os.symlink("/dev/full", folder / "decoder_model_merged.onnx.part")
    with pytest.raises(DownloadError, match=r"disk is full.*SPACEVOICE_MODELS"):
        download_model(store, "tiny-captioner", retries=0)
    assert store.state("tiny-captioner") == "partial"


def test_not_enough_space_is_said_before_downloading(tmp_path: Path, server: ModelServer,
                                                     payloads: dict[str, bytes]) -> None:
    path = write_catalogue(tmp_path, server.url, payloads,
                           extra_files=[{"path": "huge.bin", "sha256": "0" * 64, "size": 10**18}])
    store = ModelStore(tmp_path / "models", Catalogue.load(path))
    with pytest.raises(DownloadError, match=r"disk is full: tiny-captioner needs \d+ MB more"):
        download_model(store, "tiny-captioner")
    assert server.requests == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /sys, which refuses writes even to root")
def test_permission_denied_is_a_plain_error(server: ModelServer, payloads: dict[str, bytes], tmp_path: Path) -> None:
    store = ModelStore(Path("/sys/spacevoice-models"),
                       Catalogue.load(write_catalogue(tmp_path, server.url, payloads)))
    with pytest.raises(DownloadError, match=r"Permission denied: SpaceVoice cannot write to /sys"):
        download_model(store, "tiny-captioner")


def test_a_damaged_model_is_repaired_by_downloading_again(store: ModelStore, server: ModelServer) -> None:
    download_model(store, "tiny-captioner")
    target = store.root / "tiny-captioner/onnx/decoder_model_merged.onnx"
    data = bytearray(target.read_bytes())
    data[1000] ^= 0xFF  # same size, different bytes: the new modification time makes the load re-hash it
    target.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"decoder_model_merged.onnx was changed after it was installed.*download"):
        store.require("tiny-captioner")
    report = store.verify("tiny-captioner")
    assert report.state == "damaged" and "decoder_model_merged.onnx does not match" in report.problems[0]
    server.requests.clear()
    download_model(store, "tiny-captioner")
    fetched = {k.split(":", 1)[1].split("/", 2)[2] for k, _ in server.requests if not k.startswith("cdn:")}
    assert fetched == {"onnx/decoder_model_merged.onnx"}
    assert store.verify("tiny-captioner").ok
    target.write_bytes(b"truncated")
    with pytest.raises(ModelError, match=r"damaged: onnx/decoder_model_merged.onnx has 9 bytes.*download tiny-capt"):
        store.require("tiny-captioner")


def test_a_manifest_cut_in_half_makes_the_folder_partial(store: ModelStore, server: ModelServer) -> None:
    download_model(store, "tiny-captioner")
    manifest = store.root / "tiny-captioner" / MANIFEST
    manifest.write_bytes(manifest.read_bytes()[:40])
    assert store.state("tiny-captioner") == "partial"
    with pytest.raises(ModelError, match=r"partly downloaded"):
        store.require("tiny-captioner")
    download_model(store, "tiny-captioner")
    assert store.verify("tiny-captioner").ok
    assert sha256_file(manifest)  # rewritten whole


class Cancel(Exception):
    """What the tray's Stop raises from its progress callback."""


class CancelAfter:
    """A progress receiver that cancels once ``limit`` bytes of a file are on disk."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def start(self, label: str, total: int | None, done: int = 0) -> None:
        pass

    def update(self, done: int) -> None:
        if done >= self.limit:
            raise Cancel

    def finish(self) -> None:
        pass


def test_cancel_keeps_the_part_and_a_server_ignoring_range_restarts_it(store: ModelStore, server: ModelServer,
                                                                       payloads: dict[str, bytes]) -> None:
    with pytest.raises(Cancel):
        download_model(store, "tiny-captioner", progress=CancelAfter(500_000))
    part = store.root / "tiny-captioner/onnx/decoder_model_merged.onnx.part"
    assert part.stat().st_size >= 500_000 and store.state("tiny-captioner") == "partial"
    server.ignore_range = True  # a mirror without Range support: the file starts over, still correct
    download_model(store, "tiny-captioner")
    folder = store.require("tiny-captioner")
    assert (folder / "onnx/decoder_model_merged.onnx").read_bytes() == payloads["onnx/decoder_model_merged.onnx"]


def test_one_download_of_a_model_at_a_time(store: ModelStore) -> None:
    fcntl = pytest.importorskip("fcntl")
    store.root.mkdir(parents=True)
    with open(store.root / ".tiny-captioner.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        (store.root / "tiny-captioner").mkdir()  # the other download has only just started
        with pytest.raises(ModelError, match=r"tiny-captioner is busy: another SpaceVoice is downloading"):
            download_model(store, "tiny-captioner")
        assert (store.root / "tiny-captioner").is_dir()  # its folder is left alone
        with pytest.raises(ModelError, match=r"busy"):
            store.remove("tiny-captioner")  # and not deleted under the other download's feet
        assert (store.root / "tiny-captioner").is_dir()
