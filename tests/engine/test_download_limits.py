"""Downloads that would never end: a server that trickles, one that never answers, one that sends a body with no
length and no end. Each is a real TCP server on 127.0.0.1 behaving that way; the download must give up in bounded
time, with a plain message, and never write past the size the file should have."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.models import download
from engine.models.download import DownloadError, fetch_file

Behaviour = Callable[[socket.socket], None]


class RawServer:
    """Accepts connections on 127.0.0.1 and hands each to ``behaviour`` in its own thread."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/model.onnx"
        self.connections = 0
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        with client:
            client.recv(65536)  # the request
            with contextlib.suppress(OSError):  # the downloader hung up: that is the point
                self.behaviour(client)

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Behaviour], RawServer]]:
    servers: list[RawServer] = []

    def start(behaviour: Behaviour) -> RawServer:
        servers.append(RawServer(behaviour))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_a_trickle_is_no_progress_and_meets_the_deadline(serve, tmp_path: Path) -> None:
    def trickle(client: socket.socket) -> None:
        client.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n")
        for _ in range(400):
            client.sendall(b"x")
            time.sleep(0.1)

    server = serve(trickle)
    with pytest.raises(DownloadError, match=r"no progress for \d+ seconds"):
        # Plenty of retries: only the deadline can end it, since a trickle's bytes are not progress.
        fetch_file(server.url, tmp_path / "model.onnx", size=200_000, retries=50, timeout=1.0, deadline=2.5)
    assert server.connections <= 4


def test_a_trickling_server_is_a_stall_and_the_download_gives_up(serve, tmp_path: Path) -> None:
    def trickle(client: socket.socket) -> None:
        client.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n")
        for _ in range(400):  # a byte every 0.1 s: the connection is alive, the download is not
            client.sendall(b"x")
            time.sleep(0.1)

    server = serve(trickle)
    started = time.monotonic()
    with pytest.raises(DownloadError, match="kept failing") as caught:
        fetch_file(server.url, tmp_path / "model.onnx", size=200_000, retries=2, timeout=1.0, deadline=30)
    elapsed = time.monotonic() - started
    assert "stalled" in str(caught.value)
    assert server.connections == 3  # the first try and two retries, each ended by the stall window
    assert elapsed < 20, f"a trickle held the download for {elapsed:.0f} s"
    assert not (tmp_path / "model.onnx").exists()


def test_a_server_that_never_answers_fails_by_the_deadline(serve, tmp_path: Path) -> None:
    server = serve(lambda client: time.sleep(30))  # accepts, reads the request, says nothing
    started = time.monotonic()
    with pytest.raises(DownloadError, match=r"no progress for \d+ seconds"):
        fetch_file(server.url, tmp_path / "model.onnx", size=1000, retries=50, timeout=1.0, deadline=3.0)
    elapsed = time.monotonic() - started
    # 50 retries of 1 s each would be over 50 s; the deadline ends it after about 3 s.
    assert elapsed < 8, f"gave up only after {elapsed:.1f} s"


def test_a_body_with_no_length_stops_at_the_catalogue_size(serve, tmp_path: Path) -> None:
    def endless(client: socket.socket) -> None:
        client.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
        block = b"y" * 65536
        for _ in range(8000):  # 500 MB if nobody stops it
            client.sendall(block)

    server = serve(endless)
    target = tmp_path / "model.onnx"
    sha = hashlib.sha256(b"y" * 200_000).hexdigest()
    with pytest.raises(DownloadError, match="more than the 200000 bytes"):
        fetch_file(server.url, target, sha256=sha, size=200_000, retries=0, timeout=5)
    leftovers = list(tmp_path.iterdir())
    assert leftovers == [], f"kept {[(p.name, p.stat().st_size) for p in leftovers]}"


def test_a_body_of_unknown_size_stops_at_the_cap(serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(download, "MAX_UNKNOWN_SIZE", 1 << 20)

    def endless(client: socket.socket) -> None:
        client.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
        for _ in range(2000):
            client.sendall(b"z" * 65536)

    server = serve(endless)
    with pytest.raises(DownloadError, match=f"more than the {1 << 20} bytes"):
        fetch_file(server.url, tmp_path / "model.onnx", retries=0, timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_a_slow_link_that_keeps_moving_is_not_given_up(serve, tmp_path: Path) -> None:
    data = bytes(range(256)) * 160  # 40 kB, sent in 8 kB steps with pauses shorter than the stall window

    def slow(client: socket.socket) -> None:
        client.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(data))
        for start in range(0, len(data), 8192):
            client.sendall(data[start:start + 8192])
            time.sleep(0.3)

    server = serve(slow)
    target = tmp_path / "model.onnx"
    fetched = fetch_file(server.url, target, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                         retries=0, timeout=1.0, deadline=1.0)
    assert target.read_bytes() == data and fetched.size == len(data)


def test_lookup_failures_are_said_as_no_internet_connection() -> None:
    error = download._network_error(socket.gaierror(-2, "Name or service not known"),
                                     "https://huggingface.co/x/resolve/main/m.onnx", "m.onnx")
    assert isinstance(error, DownloadError)
    assert str(error).startswith("No internet connection")
    assert "Errno" not in str(error) and "Name or service" not in str(error)
