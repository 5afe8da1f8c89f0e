"""Speaking through the user's own screen reader: which one runs, and a connection that speaks, brailles and stops.

The back ends are Prism's (PyPI ``prismatoid``, MPL-2.0): NVDA (its controller client: speak, braille, cancel,
is-running), JAWS (its COM API) and others on Windows; on Linux Orca's D-Bus service (Orca 49+, which speaks and
brailles in Orca's own voice and settings) and else speech-dispatcher over SSIP (the server Orca speaks through,
found at ``SPEECHD_ADDRESS`` or its default socket). Only back ends that *are* a screen reader or its speech server
are accepted: Prism's plain synthesizers (SAPI, OneCore, AVSpeech) would just be a second own voice.

Whether a screen reader runs: on Linux the accessibility bus's ``org.a11y.Status.ScreenReaderEnabled`` (Orca sets
it while it runs), read over the session bus with jeepney; on Windows Prism's is-running test of NVDA, JAWS and
the others. No Qt here.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any

from engine.errors import DeviceError

log = logging.getLogger(__name__)

# Prism back ends that are a screen reader (or, for speech-dispatcher, the speech server a Linux screen reader
# speaks through), by Prism's BackendId name. SAPI, OneCore, UIA and AVSpeech are synthesizers, not screen readers.
SCREEN_READER_BACKENDS = ("NVDA", "JAWS", "ORCA", "SPEECH_DISPATCHER", "ZDSR", "ZOOM_TEXT", "SYSTEM_ACCESS",
                          "WINDOW_EYES", "PC_TALKER", "BOY_PC_READER", "SENSE_READER", "VOICE_OVER")
# The ones that mean "a screen reader is running" when Prism finds them usable (speech-dispatcher only speaks).
RUNNING_READERS = tuple(name for name in SCREEN_READER_BACKENDS if name != "SPEECH_DISPATCHER")
MODES = ("auto", "own", "screen_reader", "both")


def linux_screen_reader_enabled(timeout: float = 1.0) -> bool:
    """``org.a11y.Status.ScreenReaderEnabled`` on the session bus; False when there is no bus or no answer."""
    try:
        from jeepney import DBusAddress, Properties
        from jeepney.io.blocking import open_dbus_connection
    except ImportError:
        return False
    try:
        with open_dbus_connection(bus="SESSION") as connection:
            status = DBusAddress("/org/a11y/bus", bus_name="org.a11y.Bus", interface="org.a11y.Status")
            reply = connection.send_and_get_reply(Properties(status).get("ScreenReaderEnabled"), timeout=timeout)
    except Exception as error:  # no session bus, no accessibility bus launcher, a timeout: nobody to ask
        log.debug("accessibility status unavailable: %s", error)
        return False
    body = reply.body[0] if reply.body else None
    return bool(isinstance(body, tuple) and len(body) == 2 and body[1])


def running_screen_reader() -> str | None:
    """The name of the screen reader running now ("Orca", "NVDA", ...; "a screen reader" when only the desktop's
    flag says so), or None."""
    if sys.platform.startswith("linux"):
        return "a screen reader" if linux_screen_reader_enabled() else None
    if sys.platform == "win32":
        with contextlib.suppress(Exception):  # no Prism: nothing can be asked, so none is known to run
            import prism

            context = prism.Context()
            for name in RUNNING_READERS:
                backend_id = getattr(prism.BackendId, name, None)
                if backend_id is None or not context.exists(backend_id):
                    continue
                with contextlib.suppress(Exception):
                    if context.create(backend_id).features.is_supported_at_runtime:
                        return str(context.name_of(backend_id))
    return None


def speaks_through(mode: str, running: str | None) -> tuple[bool, bool]:
    """(own voice, screen reader) for the ``speak_through`` setting; ``auto`` follows whether one runs."""
    if mode == "own":
        return True, False
    if mode == "screen_reader":
        return False, True
    if mode == "both":
        return True, True
    return (False, True) if running else (True, False)


class ScreenReader:
    """One connection to the user's screen reader through Prism. Not thread-safe: use it from one thread.

    Raises `DeviceError` (with what to do) when Prism is not installed or no screen reader back end answers.
    """

    def __init__(self) -> None:
        try:
            import prism
        except (ImportError, OSError) as error:
            raise DeviceError("SpaceVoice cannot reach screen readers on this computer (the prismatoid library "
                              "is missing).", "Reinstall SpaceVoice, or choose Speak through: own voice.") from error
        self._context = prism.Context()
        self._backend: Any = None
        problems: list[str] = []
        for name in SCREEN_READER_BACKENDS:
            backend_id = getattr(prism.BackendId, name, None)
            if backend_id is None or not self._context.exists(backend_id):
                continue
            try:
                # create, not acquire: acquire hands out one shared instance per process, which stays bound to a
                # speech server that has since gone away (a restarted speech-dispatcher, Orca quit).
                self._backend = self._context.create(backend_id)
                break
            except Exception as error:  # prism.PrismError and ValueError: that back end is not running here
                problems.append(f"{name}: {error}")
        if self._backend is None:
            log.info("no screen reader back end: %s", "; ".join(problems) or "none built in")
            raise DeviceError("No screen reader answered (NVDA, JAWS, Orca or speech-dispatcher).",
                              "Start your screen reader, or choose Speak through: own voice in Settings.")
        self.name = str(self._backend.name)
        features = self._backend.features
        # output() is speech plus braille where the back end has a display; else speech alone.
        self._say = self._backend.output if features.supports_output else self._backend.speak
        self.brailles = bool(features.supports_braille)
        self._can_stop = bool(features.supports_stop)

    def speak(self, text: str, *, interrupt: bool) -> None:
        """Say (and braille) ``text``; ``interrupt`` first silences what SpaceVoice asked it to say before."""
        self._say(text, interrupt=interrupt)

    def stop(self) -> None:
        """Silence what SpaceVoice asked the screen reader to say."""
        if self._can_stop:
            self._backend.stop()
