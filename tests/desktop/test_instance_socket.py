"""The single-instance socket against a real running tray (``main.py`` under Xvfb): it lives in a folder only
this user can enter, refuses a socket or folder another user planted, refuses a caller of another user id, and
bounds what a caller can make it hold (line size, idle time, number of connections)."""

from __future__ import annotations

import os
import resource
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.instance import IDLE_SECONDS, MAX_CONNECTIONS, MAX_LINE_BYTES
from tests.conftest import ROOT

pytestmark = pytest.mark.gui
NOBODY = 65534
SQUATTER_WORDS = "user id 65534"


def _short_folder() -> Path:
    """A private folder directly in /tmp: a socket's path must stay under 108 bytes."""
    folder = Path(tempfile.mkdtemp(prefix="sv-"))
    folder.chmod(0o700)
    return folder


def _environment(home: Path, runtime: Path | None, display: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "XDG_RUNTIME_DIR"}
    env.update(SPACEVOICE_HOME=str(home), SPACEVOICE_HOTKEYS="none", DISPLAY=display, QT_QPA_PLATFORM="xcb",
               SPACEVOICE_LOG_LEVEL="20", **extra)
    if runtime is not None:
        env["XDG_RUNTIME_DIR"] = str(runtime)
    return env


def _socket_path(runtime: Path) -> Path:
    sockets = list((runtime / "spacevoice").glob("instance-*.sock"))
    return sockets[0] if sockets else runtime / "spacevoice" / "none"


def _ask(path: Path, line: bytes, timeout: float = 5) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout)
        client.connect(str(path))
        client.sendall(line)
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = client.recv(4096)
            if not chunk:
                break
            answer += chunk
        return answer


def _rss_kib(pid: int) -> int:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1])
    raise AssertionError("no VmRSS")


def _settled_rss(pid: int, timeout: float = 90) -> int:
    """The tray's resident memory once it stops changing (models load in the background after the icon shows)."""
    deadline = time.monotonic() + timeout
    samples = [_rss_kib(pid)]
    while time.monotonic() < deadline:
        time.sleep(0.5)
        samples.append(_rss_kib(pid))
        if len(samples) >= 6 and max(samples[-6:]) - min(samples[-6:]) < 1024:
            break
    return samples[-1]


class RunningTray:
    """``main.py`` (the tray) in its own process, with its log in a file."""

    def __init__(self, home: Path, runtime: Path, display: str) -> None:
        self.runtime = runtime
        self.log = home.parent / "tray.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen([sys.executable, str(ROOT / "main.py")],
                                            env=_environment(home, runtime, display), cwd=ROOT, stdout=log,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not self.socket.exists():
            assert self.process.poll() is None and time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.1)
        assert _ask(self.socket, b"ping\n") == b"ok\n"

    @property
    def socket(self) -> Path:
        """The instance socket's path."""
        return _socket_path(self.runtime)

    def stop(self) -> str:
        """Quit the tray (SIGTERM) and return its log."""
        self.process.terminate()
        self.process.wait(30)
        return self.log.read_text()


@pytest.fixture(scope="module")
def tray(x_display: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTray]:
    """One real tray for the module's tests, with its socket in a private runtime folder."""
    runtime = _short_folder()
    running = RunningTray(tmp_path_factory.mktemp("tray") / "home", runtime, x_display)
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(runtime, ignore_errors=True)


def test_socket_is_in_a_folder_only_this_user_can_enter(tray: RunningTray) -> None:
    folder = tray.socket.parent
    assert folder == tray.runtime / "spacevoice"
    assert folder.stat().st_uid == os.getuid() and folder.stat().st_mode & 0o777 == 0o700


def test_a_caller_of_another_user_id_is_refused(tray: RunningTray) -> None:
    client = ("import socket, sys\n"
              "s = socket.socket(socket.AF_UNIX)\n"
              "try:\n    s.connect(sys.argv[1])\nexcept OSError as e:\n    print('connect', e.errno); sys.exit()\n"
              "try:\n    s.sendall(b'trigger describe-screen\\n'); answer = s.recv(100)\n"
              "except OSError:\n    answer = b''\n"
              "print('answer', repr(answer))\n")
    as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "/usr/bin/python3", "-c",
                 client, str(tray.socket)]
    # The folder alone keeps another user out.
    first = subprocess.run(as_nobody, capture_output=True, text=True, timeout=30)
    assert first.stdout.startswith("connect 13"), first.stdout + first.stderr  # EACCES
    # Even with the folders opened by mistake, the server checks who is calling and answers nothing.
    opened = [tray.runtime, tray.socket.parent, tray.socket]
    for path in opened:
        path.chmod(0o777 if path.is_socket() else 0o711)
    try:
        second = subprocess.run(as_nobody, capture_output=True, text=True, timeout=30)
    finally:
        for path in opened:
            path.chmod(0o700)
    assert second.stdout.strip() == "answer b''", second.stdout + second.stderr
    assert _ask(tray.socket, b"ping\n") == b"ok\n"  # the user's own calls still work
    time.sleep(0.5)
    log = tray.log.read_text()
    assert f"refused a connection to the instance socket from another user ({SQUATTER_WORDS})" in log
    assert "describe-screen from socket" not in log


def test_a_200_mb_line_is_dropped_without_growing_memory(tray: RunningTray) -> None:
    before = _settled_rss(tray.process.pid)
    chunk = b"x" * (1 << 20)
    sent = 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(10)
        client.connect(str(tray.socket))
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            for _ in range(200):
                client.sendall(chunk)
                sent += len(chunk)
    after = _rss_kib(tray.process.pid)
    print(f"200 MB line: {sent / 1e6:.1f} MB taken before the drop, resident {before} -> {after} KiB")
    assert sent < 8 * len(chunk), "the server kept reading a line far over its limit"
    assert after - before < 20 * 1024, f"the tray grew by {(after - before) / 1024:.0f} MB"
    assert _ask(tray.socket, b"ping\n") == b"ok\n"
    assert _ask(tray.socket, b"x" * (MAX_LINE_BYTES - 10) + b"\n") == b"error: unknown command\n"


def test_idle_connections_are_capped_and_time_out(tray: RunningTray) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 4096), hard), hard))
    clients: list[socket.socket] = []
    refused = 0
    try:
        for _ in range(2000):
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            clients.append(client)
            try:
                client.connect(str(tray.socket))  # blocking: waits while the server's backlog is full
            except OSError:
                client.close()
                refused += 1
        time.sleep(1)
        held = _still_open(clients)
        print(f"2000 idle connections: {refused} refused at connect, {held} held after 1 s")
        assert held <= MAX_CONNECTIONS
        time.sleep(IDLE_SECONDS + 2)
        assert _still_open(clients) == 0
    finally:
        for client in clients:
            client.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert _ask(tray.socket, b"ping\n") == b"ok\n"


def _still_open(clients: list[socket.socket]) -> int:
    """How many of ``clients`` the server has not closed (no end-of-file or reset waiting on them)."""
    count = 0
    for client in clients:
        if client.fileno() < 0:
            continue
        poller = select.poll()
        poller.register(client, select.POLLIN)
        if not poller.poll(0):
            count += 1
            continue
        try:
            if client.recv(1, socket.MSG_PEEK):
                count += 1
        except OSError:
            pass
    return count


@pytest.mark.parametrize("planted", ["socket of another user", "folder of another user", "link to a folder"])
def test_a_planted_socket_or_folder_is_refused_in_plain_words(planted: str, x_display: str, tmp_path: Path) -> None:
    runtime = _short_folder()
    try:
        home = tmp_path / "home"
        folder = runtime / "spacevoice"
        received: list[bytes] = []
        squatter = None
        if planted == "link to a folder":
            (runtime / "elsewhere").mkdir(mode=0o700)
            folder.symlink_to(runtime / "elsewhere")
        else:
            folder.mkdir(mode=0o700)
        if planted == "socket of another user":
            squatter = _squat(home, runtime, x_display)
        elif planted == "folder of another user":
            os.chown(folder, NOBODY, NOBODY)
        env = _environment(home, runtime, x_display)
        tray = subprocess.run([sys.executable, str(ROOT / "main.py")], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        trigger = subprocess.run([sys.executable, str(ROOT / "main.py"), "trigger", "describe-screen"], env=env,
                                 cwd=ROOT, capture_output=True, text=True, timeout=120)
        for done in (tray, trigger):
            assert done.returncode == 3, done.stderr
            # One line for the user; the INFO log this test turns on (SPACEVOICE_LOG_LEVEL=20) is not for them.
            lines = [line for line in done.stderr.strip().splitlines() if not line.startswith("INFO ")]
            assert len(lines) == 1 and "already running" not in done.stderr, done.stderr
            assert "SpaceVoice will not" in lines[0] and "Remove it" in lines[0], lines[0]
            if planted != "link to a folder":
                assert SQUATTER_WORDS in lines[0]
        if squatter is not None:
            squatter.settimeout(0.5)
            with pytest.raises(TimeoutError):  # nobody ever knocked on the squatter's door
                received.append(squatter.accept()[0].recv(100))
            squatter.close()
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def _squat(home: Path, runtime: Path, display: str) -> socket.socket:
    """Bind a listening socket at the instance's own path, owned by another user, as a squatter would."""
    script = ("from desktop.instance_address import instance_address as a\nprint(a())")
    env = _environment(home, runtime, display)
    path = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()
    squatter = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    squatter.bind(path)
    squatter.listen(5)
    os.chown(path, NOBODY, NOBODY)
    return squatter


def test_without_a_private_runtime_folder_a_0700_folder_of_our_own_is_made(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop.instance_address import InstanceSocketError, socket_folder

    shared = tmp_path / "shared-runtime"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)  # an XDG_RUNTIME_DIR others can enter is not used
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = socket_folder()
    assert folder == tmp_path / f"spacevoice-{os.getuid()}"
    assert folder.stat().st_mode & 0o777 == 0o700 and folder.stat().st_uid == os.getuid()
    folder.chmod(0o755)  # ours but opened (an old umask): closed again before use
    assert socket_folder() == folder and folder.stat().st_mode & 0o777 == 0o700
    os.chown(folder, NOBODY, NOBODY)  # planted by another user under our name
    with pytest.raises(InstanceSocketError, match="belongs to another user"):
        socket_folder()
