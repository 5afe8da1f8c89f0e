"""A real OpenAI-compatible server for the remote-engine tests: llama-cpp-python's (``python -m
llama_cpp.server``) on 127.0.0.1, one per test session, serving the tiny Orpheus-shaped Llama written as GGUF
(tests.tiny_gguf) from the same weights our onnxruntime loop runs. Between it and SpaceVoice a small TCP relay can
cut, stall or replace the answer and records every byte SpaceVoice sends (what crosses the socket)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.tiny_orpheus import built_once

MODEL_ALIAS = "tiny-orpheus"


@dataclass
class LlamaServer:
    """The running server: its base URL, the model alias, and the folders of the same model for our own loop."""

    url: str
    process: subprocess.Popen[bytes]
    orpheus_dir: Path
    log: Path


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """Start llama-cpp-python's server once per session (scripts/bootstrap.sh installs it; never skipped)."""
    import llama_cpp  # noqa: F401 - a missing install fails here, in plain sight

    from tests.llama_server import start_llama_server, stop
    from tests.tiny_gguf import write_tiny_orpheus_gguf

    base = tmp_path_factory.getbasetemp()
    orpheus = built_once("orpheus", base)
    gguf = write_tiny_orpheus_gguf(orpheus / "torch", orpheus / "tokenizer.json", base / "tiny-orpheus.gguf")
    log = base / "llama-server.log"
    try:
        process, url = start_llama_server(gguf, MODEL_ALIAS, log)
    except RuntimeError as error:
        pytest.fail(str(error))
    yield LlamaServer(url, process, orpheus, log)
    stop(process)


@dataclass
class Relay:
    """A TCP relay to the server that records what the client sent and can misbehave on the way back.

    ``mode``: "pass" (relay as is), "cut" (close after ``after`` bytes of the answer), "stall" (stop relaying
    after ``after`` bytes and hold the connection), "error" (answer HTTP 500 itself, without asking the server).
    """

    target: tuple[str, int]
    mode: str = "pass"
    after: int = 0
    sent: list[bytes] = field(default_factory=list)
    listener: socket.socket = field(default_factory=lambda: socket.create_server(("127.0.0.1", 0)))
    closed: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def start(self) -> Relay:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        record = bytearray()
        self.sent.append(b"")
        index = len(self.sent) - 1
        with client, contextlib.suppress(OSError):
            if self.mode == "error":
                record += client.recv(1 << 20)
                self.sent[index] = bytes(record)
                body = b'{"error": {"message": "the model crashed"}}'
                client.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                               b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
                return
            upstream = socket.create_connection(self.target)
            with upstream:
                def forward() -> None:
                    with contextlib.suppress(OSError):
                        while chunk := client.recv(65536):
                            record.extend(chunk)
                            self.sent[index] = bytes(record)
                            upstream.sendall(chunk)
                threading.Thread(target=forward, daemon=True).start()
                relayed = 0
                while chunk := upstream.recv(65536):
                    if self.mode in ("cut", "stall") and relayed + len(chunk) > self.after:
                        client.sendall(chunk[: max(0, self.after - relayed)])
                        if self.mode == "stall":
                            self.closed.wait(30)
                        return
                    client.sendall(chunk)
                    relayed += len(chunk)

    def close(self) -> None:
        self.closed.set()
        self.listener.close()


@pytest.fixture
def relay(llama_server: LlamaServer) -> Iterator[Relay]:
    """A fresh relay in front of the session's server."""
    port = int(llama_server.url.rsplit(":", 1)[1])
    relay = Relay(("127.0.0.1", port)).start()
    yield relay
    relay.close()
