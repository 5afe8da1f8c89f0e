"""Requests to an OpenAI-compatible server: JSON in, server-sent events out, never hanging, always cancellable.

Bounds, so that a listener never waits on a broken server:
- ``connect_timeout``: connecting and the first byte of the answer (a server that accepts and says nothing);
- ``stall_timeout``: the longest silence between two pieces of a stream once it started;
- ``deadline``: the whole request;
- retries: only a failure before any answer arrived is retried, once; a stream that broke is not (the listener
  has already heard its beginning).
A watchdog thread closes the socket when any bound passes or when ``cancel`` is set (Stop), so a read blocked in
the kernel returns at once; http.client alone cannot do that.
TLS is verified against the system's trust store. Requests carry only what the caller passes, plus the key.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.remote import RemoteError

log = logging.getLogger(__name__)

MAX_EVENT_BYTES = 1 << 20  # one server-sent event; a server that sends more is broken
MAX_BODY_BYTES = 8 << 20  # a non-streamed answer (the model list)


@dataclass
class Limits:
    """Time limits of one request (see the module docstring)."""

    connect_timeout: float = 10.0
    stall_timeout: float = 8.0  # silence mid-answer a listener would not sit through
    deadline: float = 180.0


@dataclass
class _Watch:
    cancel: threading.Event
    limits: Limits
    started: float = field(default_factory=time.monotonic)
    last_byte: float = field(default_factory=time.monotonic)
    answered: bool = False
    reason: str = ""

    def expired(self) -> str:
        now = time.monotonic()
        if self.cancel.is_set():
            return "stopped"
        if now - self.started > self.limits.deadline:
            return f"took longer than {self.limits.deadline:.0f} seconds"
        quiet = now - self.last_byte
        if not self.answered and quiet > self.limits.connect_timeout:
            return f"did not answer within {self.limits.connect_timeout:.0f} seconds"
        if self.answered and quiet > self.limits.stall_timeout:
            return f"stopped sending for {self.limits.stall_timeout:.0f} seconds"
        return ""


class RemoteClient:
    """One server: ``base`` like ``http://192.168.1.20:8080`` (paths are ``/v1/...``), and its key if any."""

    def __init__(self, base: str, key: str = "", limits: Limits | None = None) -> None:
        self.base = base.rstrip("/")
        self.key = key
        self.limits = limits or Limits()
        parsed = urllib.parse.urlparse(self.base)
        self.host = parsed.hostname or ""
        self.secure = parsed.scheme == "https"
        self.port = parsed.port or (443 if self.secure else 80)
        self.prefix = parsed.path.rstrip("/")

    def get_json(self, path: str, *, cancel: threading.Event | None = None) -> Any:
        """GET ``path`` and return its JSON body."""
        chunks = b"".join(self._request("GET", path, None, cancel or threading.Event(), stream=False))
        return _json(chunks, path)

    def stream(self, path: str, payload: dict[str, Any], *, cancel: threading.Event | None = None
               ) -> Iterator[dict[str, Any]]:
        """POST ``payload`` with ``stream: true`` and yield each server-sent event's JSON until ``[DONE]``."""
        cancel = cancel or threading.Event()
        buffer = b""
        done = False
        for piece in self._request("POST", path, {**payload, "stream": True}, cancel,
                                   stream=True):
            buffer += piece
            while b"\n\n" in buffer or b"\r\n\r\n" in buffer:
                cut = min(i for i in (buffer.find(b"\n\n"), buffer.find(b"\r\n\r\n")) if i >= 0)
                event, buffer = buffer[:cut], buffer[cut:].lstrip(b"\r\n")
                data = b"\n".join(line[5:].strip() for line in event.splitlines() if line.startswith(b"data:"))
                if not data:
                    continue  # a comment or keep-alive
                if data == b"[DONE]":
                    done = True
                    break
                parsed = _json(data, path)
                if isinstance(parsed, dict) and parsed.get("error"):
                    raise RemoteError(f"The server stopped with an error: {_error_text(parsed['error'])}.",
                                      "SpaceVoice uses this computer's own engine for this request.")
                yield parsed
            if done:
                break
            if len(buffer) > MAX_EVENT_BYTES:
                raise RemoteError("The server sent something SpaceVoice cannot read.",
                                  "Check that the address points at an OpenAI-compatible server.")
        if not done and not cancel.is_set():
            raise RemoteError("The server ended the answer before it was complete.",
                              "SpaceVoice uses this computer's own engine for the rest.")

    # -- one request ------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, payload: dict[str, Any] | None, cancel: threading.Event,
                 *, stream: bool) -> Iterator[bytes]:
        watch = _Watch(cancel, self.limits)
        for attempt in (1, 2):
            try:
                yield from self._once(method, path, payload, watch, stream=stream)
                return
            except _Retryable as error:
                if attempt == 2 or watch.expired():
                    raise RemoteError(f"The server at {self.host} {error}.",
                                      "Check that it is running and reachable; main.py remote test checks it."
                                      ) from None
                log.info("remote request failed before an answer (%s); trying once more", error)
                time.sleep(0.3)

    def _once(self, method: str, path: str, payload: dict[str, Any] | None, watch: _Watch, *,
              stream: bool) -> Iterator[bytes]:
        connection: http.client.HTTPConnection
        timeout = self.limits.connect_timeout
        if self.secure:
            connection = http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                                     context=ssl.create_default_context())
        else:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        body = json.dumps(payload).encode("utf-8") if payload is not None else None
        headers = {"Accept": "text/event-stream" if stream else "application/json", "User-Agent": "SpaceVoice/1"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        finished = threading.Event()
        dog = threading.Thread(target=_watchdog, args=(connection, watch, finished), daemon=True)
        try:
            try:
                connection.request(method, self.prefix + path, body=body, headers=headers)
                dog.start()
                response = connection.getresponse()
            except ssl.SSLCertVerificationError:
                raise RemoteError(f"{self.host} did not prove who it is (its certificate was not accepted).",
                                  "Check the address; SpaceVoice never sends to a server it cannot verify.") from None
            except (OSError, http.client.HTTPException) as error:
                if not watch.reason and isinstance(error, (TimeoutError, socket.timeout)):
                    raise _Retryable(f"did not answer within {self.limits.connect_timeout:.0f} seconds") from None
                raise _Retryable(watch.reason or _plain(error)) from None
            watch.answered, watch.last_byte = True, time.monotonic()
            if response.status >= 400:
                raise _status_error(response, self.host)
            total = 0
            while True:
                try:
                    piece = response.read1(65536) if stream else response.read(65536)
                except (OSError, http.client.HTTPException) as error:
                    if watch.cancel.is_set():
                        return  # Stop: the caller asked for the end
                    raise RemoteError(f"The connection to {self.host} broke ({watch.reason or _plain(error)}).",
                                      "SpaceVoice uses this computer's own engine for the rest.") from None
                if not piece:
                    if watch.reason and not watch.cancel.is_set():
                        raise RemoteError(f"The server at {self.host} {watch.reason}.",
                                          "SpaceVoice uses this computer's own engine for this request.")
                    return
                total += len(piece)
                if not stream and total > MAX_BODY_BYTES:
                    raise RemoteError("The server sent far more than expected.", "Check the server address.")
                watch.last_byte = time.monotonic()
                yield piece
        finally:
            finished.set()
            connection.close()


class _Retryable(Exception):
    """No answer at all yet: safe to try once more."""


def _watchdog(connection: http.client.HTTPConnection, watch: _Watch, finished: threading.Event) -> None:
    while not finished.wait(0.05):
        reason = watch.expired()
        if reason:
            watch.reason = reason
            sock = connection.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # wakes a read blocked in the kernel
            return


def _status_error(response: http.client.HTTPResponse, host: str) -> RemoteError:
    detail = response.reason
    with contextlib.suppress(Exception):  # servers put their own words in {"error": ...}; any other body is fine
        detail = _error_text(json.loads(response.read(65536)).get("error", "")) or detail
    if response.status in (401, 403):
        return RemoteError(f"{host} refused the request: the API key is missing or wrong.",
                           "Set it with: main.py remote key")
    if response.status == 404:
        return RemoteError(f"{host} does not offer this (HTTP 404: {detail}).",
                           "Check the server address and the model names; main.py remote test lists its models.")
    return RemoteError(f"The server at {host} answered with an error (HTTP {response.status}: {detail}).",
                       "SpaceVoice uses this computer's own engine for this request.")


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("type") or "unknown error")[:200]
    return str(error)[:200]


def _json(data: bytes, path: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        log.debug("unreadable answer from %s: %r", path, data[:200])
        raise RemoteError("The server sent something SpaceVoice cannot read.",
                          "Check that the address points at an OpenAI-compatible server.") from None


def _plain(error: BaseException) -> str:
    if isinstance(error, socket.gaierror):
        return "cannot be found (its name could not be looked up)"
    if isinstance(error, ConnectionRefusedError):
        return "refused the connection (is the server running?)"
    if isinstance(error, (TimeoutError, socket.timeout)):
        return "did not answer in time"
    return f"could not be reached ({type(error).__name__})"
