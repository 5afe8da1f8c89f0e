"""One SpaceVoice per user: a local socket (QLocalServer) that later starts and ``main.py trigger`` talk to.

The protocol is one line each way: ``trigger ACTION`` or ``ping`` in, ``ok`` or ``error: REASON`` out. Where the
socket lives and who may use it is `desktop.instance_address`'s job: a folder only this user can enter, a socket
owned by anyone else refused, the other end's user id checked on every connection, by both sides. The server
also bounds what a caller can make it hold: a line of at most `MAX_LINE_BYTES`, `IDLE_SECONDS` to send it, and
`MAX_CONNECTIONS` at once; a connection over any of these is dropped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from desktop.instance_address import InstanceSocketError, instance_address, is_windows, peer_uid

log = logging.getLogger(__name__)

CONNECT_MS = 1000
MAX_LINE_BYTES = 4096
IDLE_SECONDS = 3.0
MAX_CONNECTIONS = 16


def server_name() -> str:
    """The socket's address for this user and data folder (checked: raises `InstanceSocketError`)."""
    return instance_address()


def send_command(line: str, *, timeout_ms: int = 3000) -> str | None:
    """Send one command line to the running instance; return its answer, or ``None`` when none is running.

    Raises `InstanceSocketError` when the socket, or the process answering on it, is another user's.
    """
    from PySide6.QtCore import QCoreApplication

    address = server_name()
    if not is_windows() and not Path(address).exists():
        return None
    if QCoreApplication.instance() is None:
        QCoreApplication([])  # Qt's socket classes want an application object, even without an event loop
    socket = QLocalSocket()
    socket.connectToServer(address)
    if not socket.waitForConnected(CONNECT_MS):
        return None
    owner = peer_uid(int(socket.socketDescriptor()))
    if owner is not None and owner != os.getuid():
        socket.abort()
        raise InstanceSocketError(f"Another user's program (user id {owner}) answers on SpaceVoice's socket "
                                  f"{address}; SpaceVoice will not talk to it.",
                                  "Remove that socket (an administrator may have to), then start SpaceVoice again.")
    socket.write((line.strip() + "\n").encode("utf-8"))
    socket.flush()
    answer = b""
    while b"\n" not in answer and len(answer) <= MAX_LINE_BYTES and socket.waitForReadyRead(timeout_ms):
        answer += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    return answer[:MAX_LINE_BYTES].decode("utf-8", "replace").strip() or "error: no answer"


class InstanceServer(QObject):
    """Listens on the instance socket and emits `triggered` for each valid ``trigger ACTION``.

    Args:
        accepts: tells whether an action id may be triggered remotely.
    """

    triggered = Signal(str)

    def __init__(self, accepts: Callable[[str], bool], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._accepts = accepts
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.setMaxPendingConnections(MAX_CONNECTIONS)
        self._server.newConnection.connect(self._on_connection)
        self._open: set[_Connection] = set()

    def listen(self) -> bool:
        """Start listening; False when another instance of ours already answers on the socket.

        Raises `InstanceSocketError` when the socket or its folder belongs to someone else.
        """
        if send_command("ping", timeout_ms=500) is not None:
            return False
        address = server_name()
        if not is_windows() and Path(address).exists():
            os.unlink(address)  # ours (checked above) and dead: left behind by a crashed instance
        if not self._server.listen(address):
            log.warning("cannot listen on the instance socket: %s", self._server.errorString())
            return False
        return True

    def close(self) -> None:
        """Stop listening and drop every open connection."""
        self._server.close()
        for connection in list(self._open):
            connection.drop()

    def _on_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            uid = peer_uid(int(socket.socketDescriptor()))
            if uid is not None and uid != os.getuid():
                log.warning("refused a connection to the instance socket from another user (user id %s)", uid)
            elif len(self._open) >= MAX_CONNECTIONS:
                log.debug("instance socket: %d connections open, one more dropped", len(self._open))
            else:
                self._open.add(_Connection(socket, self._answer, self._open.discard))
                continue
            socket.abort()
            socket.deleteLater()

    def _answer(self, line: str) -> str:
        words = line.split()
        if words == ["ping"]:
            return "ok"
        if len(words) == 2 and words[0] == "trigger":
            if not self._accepts(words[1]):
                return f"error: unknown action {words[1]}"
            self.triggered.emit(words[1])
            return "ok"
        return "error: unknown command"


class _Connection:
    """One caller: reads at most one line of `MAX_LINE_BYTES`, answers it, and is dropped when idle too long."""

    def __init__(self, socket: QLocalSocket, answer: Callable[[str], str],
                 closed: Callable[[_Connection], None]) -> None:
        self._socket = socket
        self._answer = answer
        self._closed = closed
        self._buffer = bytearray()
        self._finished = False
        # Qt stops reading from the system once this much is waiting: a caller cannot make it buffer more.
        socket.setReadBufferSize(MAX_LINE_BYTES + 1)
        self._timer = QTimer(socket)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.drop)
        self._timer.start(int(IDLE_SECONDS * 1000))
        socket.readyRead.connect(self._read)
        socket.disconnected.connect(self._finish)

    def _read(self) -> None:
        room = MAX_LINE_BYTES + 1 - len(self._buffer)
        self._buffer.extend(bytes(self._socket.read(room).data()))
        end = self._buffer.find(b"\n")
        if end >= 0:
            line = bytes(self._buffer[:end]).decode("utf-8", "replace")
            self._socket.readyRead.disconnect(self._read)
            self._socket.write((self._answer(line) + "\n").encode("utf-8"))
            self._socket.flush()
            self._socket.disconnectFromServer()
        elif len(self._buffer) > MAX_LINE_BYTES:
            log.warning("instance socket: a message longer than %d bytes was dropped", MAX_LINE_BYTES)
            self.drop()

    def drop(self) -> None:
        """Close at once, whatever is pending."""
        self._socket.abort()
        self._finish()

    def _finish(self) -> None:
        if self._finished:  # abort() also emits disconnected
            return
        self._finished = True
        self._timer.stop()
        self._closed(self)
        self._socket.deleteLater()
