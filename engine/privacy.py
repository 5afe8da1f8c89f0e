"""Keeping SpaceVoice offline: onnxruntime's own telemetry is switched off before onnxruntime is loaded.

onnxruntime 1.31 carries Microsoft's 1DS ("OneCollector") telemetry. Measured with ``strace`` on Linux: merely
importing it creates ``~/.cache/Microsoft/DeveloperTools/.onnxruntime/`` (``deviceid``, ``onnxruntime.db``, an
event queue), and once a session exists it sends DNS queries for ``mobile.events.data.microsoft.com``.
``onnxruntime.disable_telemetry_events()`` alone does not stop either (by then the library is loaded and its
telemetry started); the environment variable ``ORT_DISABLE_TELEMETRY=1``, read when the library loads, stops
both. So every entry point sets it before anything imports onnxruntime: ``engine/__init__`` (any use of the
engine), ``main.py`` and the frozen app's runtime hook. `import_onnxruntime` also calls
``disable_telemetry_events()``, the documented switch for the ETW events of the Windows builds.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType

TELEMETRY_VARIABLE = "ORT_DISABLE_TELEMETRY"
# onnxruntime takes "1", "true" or "yes"; "0", "" and anything else leave its telemetry on (measured).
TELEMETRY_OFF = "1"

_loaded_too_early = False
_events_disabled = False


def disable_onnxruntime_telemetry() -> None:
    """Tell onnxruntime, before it loads, to send and store nothing; idempotent and cheap.

    A value the user set that would leave telemetry on ("0") is overridden: SpaceVoice promises no traffic.
    """
    global _loaded_too_early
    if os.environ.get(TELEMETRY_VARIABLE) != TELEMETRY_OFF:
        os.environ[TELEMETRY_VARIABLE] = TELEMETRY_OFF
        # Loaded before this first call: the library has read its environment already and runs its telemetry.
        _loaded_too_early = _loaded_too_early or "onnxruntime" in sys.modules
    if "onnxruntime" in sys.modules:
        _disable_events(sys.modules["onnxruntime"])


def import_onnxruntime() -> ModuleType:
    """``import onnxruntime`` with its telemetry off (the variable first, then the runtime switch)."""
    disable_onnxruntime_telemetry()
    import onnxruntime

    _disable_events(onnxruntime)
    return onnxruntime


def _disable_events(module: ModuleType) -> None:
    global _events_disabled
    if _events_disabled:
        return
    switch = getattr(module, "disable_telemetry_events", None)
    if switch is not None:
        switch()
    _events_disabled = True


def telemetry_folder() -> Path:
    """Where onnxruntime's 1DS telemetry keeps its device id and event queue (Linux and macOS builds)."""
    return Path.home() / ".cache" / "Microsoft" / "DeveloperTools" / ".onnxruntime"


def telemetry_problems() -> list[str]:
    """What leaves onnxruntime's telemetry on in this process, in plain words; empty when it is off."""
    problems = []
    if os.environ.get(TELEMETRY_VARIABLE) != TELEMETRY_OFF:
        problems.append(f"{TELEMETRY_VARIABLE} is not {TELEMETRY_OFF}")
    if _loaded_too_early:
        problems.append("onnxruntime was loaded before SpaceVoice could turn its telemetry off")
    if "onnxruntime" in sys.modules and not _events_disabled:
        problems.append("onnxruntime's telemetry events were not disabled")
    return problems


def open_telemetry_files() -> list[str]:
    """Files in onnxruntime's telemetry folder that this process holds open (its event queue, while telemetry
    runs); read from /proc on Linux, so another program writing there on the same account does not count."""
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        return []
    folder = str(telemetry_folder()) + os.sep
    held = []
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile (the listing's own descriptor)
            continue
        if target.startswith(folder):
            held.append(target)
    return sorted(held)
