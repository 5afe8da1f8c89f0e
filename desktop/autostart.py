"""Start at login: the Windows ``Run`` registry key, or an XDG autostart ``.desktop`` entry elsewhere."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from engine.atomicfile import write_atomic

log = logging.getLogger(__name__)

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
ENTRY_NAME = "SpaceVoice"


def launch_command() -> list[str]:
    """The command that starts the tray app, as a list of arguments."""
    executable = Path(sys.executable)
    if getattr(sys, "frozen", False):
        # On Windows the installer ships a console spacevoice.exe (command line, --self-test) and a windowed
        # SpaceVoiceTray.exe; login must start the windowed one, or a console window opens beside the tray.
        tray = executable.with_name("SpaceVoiceTray.exe")
        return [str(tray if sys.platform == "win32" and tray.exists() else executable)]
    if sys.platform == "win32" and executable.with_name("pythonw.exe").exists():
        executable = executable.with_name("pythonw.exe")  # same reason: no console window at login
    main = Path(__file__).resolve().parent.parent / "main.py"
    return [str(executable), str(main)]


def xdg_autostart_file() -> Path:
    """``$XDG_CONFIG_HOME/autostart/spacevoice.desktop`` (``~/.config`` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autostart" / "spacevoice.desktop"


def _quote(argument: str) -> str:
    # The Desktop Entry spec's Exec quoting: double quotes, with " ` $ and \\ escaped inside.
    if not any(c in argument for c in ' \t"`$\\'):
        return argument
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in argument)
    return f'"{escaped}"'


def desktop_entry() -> str:
    """The text of the XDG autostart entry."""
    exec_line = " ".join(_quote(a) for a in launch_command())
    return ("[Desktop Entry]\nType=Application\nName=SpaceVoice\n"
            "Comment=Describes your screen and webcam aloud\n"
            f"Exec={exec_line}\nTerminal=false\nX-GNOME-Autostart-enabled=true\n")


def is_enabled() -> bool:
    """True when SpaceVoice starts at login."""
    if sys.platform == "win32":
        return _windows_value() is not None
    return xdg_autostart_file().exists()


def set_start_at_login(enabled: bool) -> None:
    """Make SpaceVoice start at login, or not. Idempotent."""
    if sys.platform == "win32":
        _set_windows(enabled)
        return
    path = xdg_autostart_file()
    if enabled:
        write_atomic(path, desktop_entry().encode("utf-8"), private=False)
        log.info("start at login: wrote %s", path)
    elif path.exists():
        path.unlink()
        log.info("start at login: removed %s", path)


def _windows_value() -> str | None:
    import winreg  # type: ignore[import-not-found,unused-ignore]

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:  # type: ignore[attr-defined,unused-ignore]
            return str(winreg.QueryValueEx(key, ENTRY_NAME)[0])  # type: ignore[attr-defined,unused-ignore]
    except OSError:
        return None


def _set_windows(enabled: bool) -> None:
    import subprocess
    import winreg  # type: ignore[import-not-found,unused-ignore]

    access = winreg.KEY_SET_VALUE  # type: ignore[attr-defined,unused-ignore]
    with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, access) as key:  # type: ignore[attr-defined,unused-ignore]
        if enabled:
            command = subprocess.list2cmdline(launch_command())
            winreg.SetValueEx(key, ENTRY_NAME, 0, winreg.REG_SZ, command)  # type: ignore[attr-defined,unused-ignore]
        elif _windows_value() is not None:
            winreg.DeleteValue(key, ENTRY_NAME)  # type: ignore[attr-defined,unused-ignore]
