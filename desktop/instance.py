"""One SpaceVoice per user: a local socket (QLocalServer) that later starts and ``main.py trigger`` talk to.

The socket name is per user and per data folder, so a portable install or a test with its own
``SPACEVOICE_HOME`` never talks to someone else's instance. The protocol is one line each way:
``trigger ACTION`` or ``ping`` in, ``ok`` or ``error: REASON`` out.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from engine import paths

log = logging.getLogger(__name__)

CONNECT_MS = 1000


def server_name() -> str:
    """The socket name for this user and data folder."""
    folder = str(paths.config_dir().resolve())
    digest = hashlib.sha256(folder.encode("utf-8")).hexdigest()[:12]
    return f"spacevoice-{getpass.getuser()}-{digest}"


def send_command(line: str, *, timeout_ms: int = 3000) -> str | None:
    """Send one command line to the running instance; return its answer, or ``None`` when none is running."""
    from PySide6.QtCore import QCoreApplication

    if QCoreApplication.instance() is None:
        QCoreApplication([])  # Qt's socket classes want an application object, even without an event loop
    socket = QLocalSocket()
    socket.connectToServer(server_name())
    if not socket.waitForConnected(CONNECT_MS):
        return None
    socket.write((line.strip() + "\n").encode("utf-8"))
    socket.flush()
    answer = b""
    while b"\n" not in answer and socket.waitForReadyRead(timeout_ms):
        answer += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    return answer.decode("utf-8", "replace").strip() or "error: no answer"


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
        self._server.newConnection.connect(self._on_connection)

    def listen(self) -> bool:
        """Start listening; False when another instance already answers on the socket."""
        if send_command("ping", timeout_ms=500) is not None:
            return False
        QLocalServer.removeServer(server_name())  # a socket file left behind by a crashed instance
        if not self._server.listen(server_name()):
            log.warning("cannot listen on the instance socket: %s", self._server.errorString())
            return False
        return True

    def close(self) -> None:
        """Stop listening."""
        self._server.close()

    def _on_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            buffer = bytearray()

            def read(socket: QLocalSocket = socket, buffer: bytearray = buffer) -> None:
                buffer.extend(bytes(socket.readAll().data()))
                if b"\n" in buffer:
                    line = bytes(buffer).split(b"\n", 1)[0].decode("utf-8", "replace")
                    socket.write((self._answer(line) + "\n").encode("utf-8"))
                    socket.flush()
                    socket.disconnectFromServer()

            socket.readyRead.connect(read)
            socket.disconnected.connect(socket.deleteLater)

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
