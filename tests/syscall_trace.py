"""Run a program under ``strace -ff -e trace=network,file`` and list what it sent out and what it wrote.

A network call counts when it reaches anything but the loopback interface or a local socket of the desktop
(X11, D-Bus, the sound server, the name-service cache) or SpaceVoice's own instance socket. A file counts as
written when it is opened for writing, created, renamed, linked or truncated; the caller says which folders are
SpaceVoice's own.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

# One trace file per process (-ff), so no call is split across "unfinished"/"resumed" lines.
STRACE = ["strace", "-ff", "-qq", "-y", "-e", "trace=network,file", "-e", "signal=none", "-s", "256"]
_NETWORK = re.compile(r"^(connect|sendto|sendmsg|sendmmsg|bind)\((?P<args>.*)\)\s+=")
_INET = re.compile(r'sa_family=AF_INET6?, .*?(?:inet_addr|inet_pton)\((?:AF_INET6, )?"(?P<address>[^"]+)"\)')
_UNIX = re.compile(r'sa_family=AF_UNIX, sun_path=(?P<at>@?)"(?P<path>[^"]*)"')
_OPEN = re.compile(r'^(?:open|openat|openat2|creat)\((?:(?:AT_FDCWD|\d+)(?:<(?P<base>[^>]*)>)?, )?"(?P<path>[^"]*)", '
                   r'(?P<flags>[^,)]+)')
_CHANGE = re.compile(r'^(?P<call>mkdir|mkdirat|rename|renameat2?|link|linkat|symlink|symlinkat|truncate|creat)'
                     r'\((?P<args>.*)\)\s+= (?P<result>-?\d+)')
_PATH_ARG = re.compile(r'(?:(?:AT_FDCWD|\d+)<(?P<base>[^>]*)>, )?"(?P<path>[^"]*)"')
_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC")
# Local sockets a desktop program may use: X11, D-Bus, PulseAudio/PipeWire, the name-service cache, systemd.
LOCAL_SOCKETS = ("/tmp/.X11-unix/", "/tmp/.ICE-unix/", "/run/dbus/", "/var/run/dbus/", "/tmp/dbus-", "/run/user/",
                 "/tmp/pulse-", "/run/pulse/", "/var/run/pulse/", "/dev/shm/jack", "/var/run/nscd/", "/run/nscd/",
                 "/run/systemd/", "/dev/log")


@dataclass
class Trace:
    """What one traced run did outside the process."""

    network: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    returncode: int | None = None
    output: str = ""

    def dns_queries(self) -> list[str]:
        """The network calls that went to a DNS server (port 53)."""
        return [call for call in self.network if "htons(53)" in call]

    def written_outside(self, *folders: Path) -> list[str]:
        """Written paths under none of ``folders``."""
        roots = [str(folder.resolve()) + "/" for folder in folders]
        return sorted({path for path in self.written if not any((path + "/").startswith(r) for r in roots)})


def available() -> bool:
    """True where strace can trace here (installed, and ptrace allowed)."""
    if shutil.which("strace") is None:
        return False
    return subprocess.run(["strace", "-qq", "-e", "trace=none", "true"], capture_output=True).returncode == 0


def run_traced(command: list[str], *, env: dict[str, str], cwd: Path, log_dir: Path, timeout: float = 300,
               idle_seconds: float | None = None, allowed_sockets: tuple[str, ...] = ()) -> Trace:
    """Run ``command`` under strace; with ``idle_seconds``, let it run that long, then end it with SIGTERM."""
    log_dir.mkdir(parents=True, exist_ok=True)
    prefix = log_dir / "trace"
    process = subprocess.Popen([*STRACE, "-o", str(prefix), "--", *command], env=env, cwd=cwd,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if idle_seconds is not None:
        time.sleep(idle_seconds)
        _terminate_traced_child(process.pid)
    output, _ = process.communicate(timeout=timeout)
    trace = Trace(returncode=process.returncode, output=output)
    for file in sorted(log_dir.glob("trace.*")):
        for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
            _classify(line, trace, cwd, allowed_sockets)
    return trace


def _terminate_traced_child(strace_pid: int) -> None:
    """SIGTERM to the program strace started (strace's own first child), as a session's logout would send."""
    children = Path(f"/proc/{strace_pid}/task/{strace_pid}/children").read_text().split()
    if children:
        os.kill(int(children[0]), signal.SIGTERM)


def _classify(line: str, trace: Trace, cwd: Path, allowed_sockets: tuple[str, ...]) -> None:
    network = _NETWORK.match(line)
    if network:
        args = network.group("args")
        inet = _INET.search(args)
        if inet and not _is_loopback(inet.group("address")) and network.group(1) != "bind":
            trace.network.append(line)
        unix = _UNIX.search(args)
        if unix and network.group(1) == "connect" and unix.group("path"):
            path = unix.group("path")
            if not path.startswith((*LOCAL_SOCKETS, *allowed_sockets)):
                trace.network.append(line)
        return
    opened = _OPEN.match(line)
    if opened:
        if any(flag in opened.group("flags") for flag in _WRITE_FLAGS) and " = -1 " not in line:
            base = Path(opened.group("base")) if opened.group("base") else cwd
            trace.written.append(_absolute(opened.group("path"), base))
        return
    changed = _CHANGE.match(line)
    if changed and int(changed.group("result")) >= 0:
        paths = _PATH_ARG.findall(changed.group("args"))
        if paths:  # rename/link: the new name (the last path) is what is written; mkdir/truncate: the one path
            base, target = paths[-1]
            trace.written.append(_absolute(target, Path(base) if base else cwd))


def _is_loopback(address: str) -> bool:
    return address.startswith("127.") or address in ("::1", "::ffff:127.0.0.1", "0.0.0.0", "::")


def _absolute(path: str, cwd: Path) -> str:
    return str(Path(path) if path.startswith("/") else cwd / path)
