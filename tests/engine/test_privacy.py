"""Nothing leaves the machine and nothing is written outside SpaceVoice's own folders: the tray app and each
command run under ``strace``, with HOME pointed at an empty folder so that onnxruntime's telemetry folder
(``~/.cache/Microsoft/DeveloperTools/.onnxruntime``) would show if anything created it."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import syscall_trace
from tests.conftest import ROOT

SAMPLE = ROOT / "resources" / "samples" / "astronaut.png"

pytestmark = pytest.mark.skipif(not syscall_trace.available(),
                                reason="strace is missing or cannot trace here (scripts/bootstrap.sh installs it)")

COMMANDS = {
    "describe": ["describe", "--image", str(SAMPLE), "--no-speech"],
    "read": ["read", "--image", str(SAMPLE), "--no-speech"],
    "say": ["say", "Hello there.", "--engine", "system", "--out", "{out}/say.wav"],
    "people add": ["people", "add", "Mia", str(SAMPLE)],
    "people list": ["people", "list"],
    "models list": ["models", "list"],
    "settings list": ["settings", "list"],
    "settings set": ["settings", "set", "rate", "150"],
    "check-setup": ["check-setup"],
    "self-test": ["--self-test"],
}


class Sandbox:
    """Every folder a traced run may use, inside the test's tmp: a home, SpaceVoice's home, scratch, output."""

    def __init__(self, tmp: Path, runtime: Path) -> None:
        self.tmp = tmp
        self.home = tmp / "home"
        self.spacevoice_home = tmp / "spacevoice-home"
        self.scratch = tmp / "scratch"  # TMPDIR: temporary files (Tesseract's, the self-test's fresh folder)
        self.out = tmp / "out"  # where the user asked a file to go (--out)
        self.runtime = runtime  # XDG_RUNTIME_DIR
        for folder in (self.home, self.scratch, self.out):
            folder.mkdir(mode=0o700)

    def environment(self, display: str | None = None) -> dict[str, str]:
        """A user's environment with every standard folder in the sandbox."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(self.home),
               "SPACEVOICE_HOME": str(self.spacevoice_home), "TMPDIR": str(self.scratch),
               "XDG_RUNTIME_DIR": str(self.runtime), "SPACEVOICE_HOTKEYS": "none",
               # Python's own bytecode cache beside the sources is not SpaceVoice's doing (an install has it).
               "PYTHONDONTWRITEBYTECODE": "1"}
        if display:
            env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
        return env

    def own_folders(self) -> tuple[Path, ...]:
        """Where SpaceVoice may write: its home, its socket folder, the scratch folder, the requested output."""
        return (self.spacevoice_home, self.runtime / "spacevoice", self.scratch, self.out, Path("/dev"),
                self.runtime / "pulse")  # the sound server's client keeps its session folder there

    def session_sockets(self) -> tuple[str, ...]:
        """The session's own sockets (sound server, D-Bus, SpaceVoice's instance) live in XDG_RUNTIME_DIR."""
        return (str(self.runtime) + "/",)

    def microsoft_cache(self) -> Path:
        """onnxruntime's telemetry folder in this sandbox's home."""
        return self.home / ".cache" / "Microsoft"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox in the test's tmp, with its runtime folder directly in /tmp (a socket path has < 108 bytes)."""
    runtime = Path(tempfile.mkdtemp(prefix="sv-"))
    try:
        yield Sandbox(tmp_path, runtime)
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def _check(trace: syscall_trace.Trace, sandbox: Sandbox) -> None:
    assert not trace.network, f"network calls other than local ones: {trace.network[:5]}"
    outside = trace.written_outside(*sandbox.own_folders())
    assert not outside, f"written outside SpaceVoice's folders: {outside[:10]}"
    assert not sandbox.microsoft_cache().exists(), "onnxruntime created its telemetry folder"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_command_sends_nothing_and_writes_only_its_own_files(name: str, sandbox: Sandbox) -> None:
    args = [arg.format(out=sandbox.out) for arg in COMMANDS[name]]
    if name == "people list":  # listing someone enrolled reads the people file and its embeddings
        _run(sandbox, COMMANDS["people add"], traced=False)
    trace = _run(sandbox, args)
    assert trace.returncode == 0, trace.output[-2000:]
    _check(trace, sandbox)


@pytest.mark.gui
def test_idle_tray_sends_nothing_and_writes_only_its_own_files(sandbox: Sandbox, x_display: str) -> None:
    trace = syscall_trace.run_traced(
        [sys.executable, str(ROOT / "main.py")], env=sandbox.environment(x_display), cwd=ROOT,
        log_dir=sandbox.tmp / "trace", idle_seconds=12,
        allowed_sockets=sandbox.session_sockets())
    assert trace.returncode == 0, trace.output[-2000:]  # SIGTERM quits the tray cleanly
    _check(trace, sandbox)


def test_trace_sees_a_dns_query_and_a_file_written_outside(sandbox: Sandbox) -> None:
    """The watcher itself: a real DNS lookup and a write into HOME are reported (so a pass means something)."""
    script = ("import socket, pathlib, os\n"
              "pathlib.Path(os.environ['HOME'], 'note.txt').write_text('x')\n"
              "try:\n    socket.getaddrinfo('mobile.events.data.microsoft.com', 443)\nexcept OSError:\n    pass\n")
    trace = syscall_trace.run_traced([sys.executable, "-c", script], env=sandbox.environment(), cwd=ROOT,
                                     log_dir=sandbox.tmp / "trace")
    assert trace.written_outside(*sandbox.own_folders()) == [str(sandbox.home / "note.txt")]
    if "nameserver" not in Path("/etc/resolv.conf").read_text(errors="replace") if Path("/etc/resolv.conf").is_file() \
            else True:
        pytest.skip("no name server configured: a lookup sends nothing out")
    assert trace.dns_queries(), "a DNS lookup was not seen"


def _run(sandbox: Sandbox, args: list[str], *, traced: bool = True) -> syscall_trace.Trace:
    command = [sys.executable, str(ROOT / "main.py"), *args]
    if not traced:
        import subprocess

        done = subprocess.run(command, env=sandbox.environment(), cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        return syscall_trace.Trace(returncode=0)
    return syscall_trace.run_traced(command, env=sandbox.environment(), cwd=ROOT, log_dir=sandbox.tmp / "trace",
                                    allowed_sockets=sandbox.session_sockets())
