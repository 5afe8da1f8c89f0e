"""Start llama-cpp-python's OpenAI-compatible server (``python -m llama_cpp.server``) on 127.0.0.1 with a GGUF
model: shared by the remote-engine tests (one server per test session) and benchmarks/bench_remote.py."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_llama_server(gguf: Path, alias: str, log: Path, *, threads: int = 1,
                       timeout: float = 120.0) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server; return the process and its base URL once it accepts connections.

    Raises RuntimeError with the end of the server's log when it does not start.
    """
    port = free_port()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", alias,
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", str(threads)],
            stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return process, f"http://127.0.0.1:{port}"
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"llama-cpp-python's server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the server and wait for it."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
