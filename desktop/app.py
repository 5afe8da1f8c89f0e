"""The tray app's controller: wires the action table to the tray (or window), hotkeys, socket, worker and voice.

Start-up order matters for a blind user who presses a hotkey right after login: the tray icon (or window) and
the hotkeys come first; the voice and the models load afterwards on the worker thread, and their progress is
spoken. Nothing here blocks the event loop: capture and recognition run on the worker, speech on the narrator.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget

from desktop.actions import BY_ID, REMOTE_IDS, WORKER_IDS
from desktop.dialogs.download_dialog import DownloadOffer, offer_if_first_run
from desktop.dialogs.report_box import report_box
from desktop.hotkeys import ActiveHotkeys, start_hotkeys
from desktop.instance import InstanceServer
from desktop.messages import MessagePath
from desktop.no_tray_window import NoTrayWindow
from desktop.requests import RequestGate
from desktop.tray import Tray, build_actions, update_hotkey_hints
from desktop.worker import EngineWorker, default_speaker, default_stage_loader
from engine.settings import Settings
from engine.speech.narrator import AudioOut, Narrator

log = logging.getLogger(__name__)

# Presses of the same action closer than this are one press (key auto-repeat, an impatient double press).
DEBOUNCE_SECONDS = 0.4
# How long the no-tray window waits after minimising itself before the screen or window is captured.
WINDOW_ASIDE_MS = 400


class SpaceVoiceApp(QObject):
    """The running tray app. Create after the QApplication, then call `start`.

    Args:
        settings: the user's settings (default: loaded from disk).
        force_window: show the no-tray window even where a tray exists.
        stage_loader / speaker_factory: how the worker gets recognisers and a voice (tests pass their own).
        use_hotkeys: register global hotkeys (off for tests that run several apps).
    """

    request_work = Signal(int, str)
    request_warm_up = Signal()
    request_check = Signal()
    settings_changed = Signal(object)
    request_enrol = Signal(int, str, object)
    request_download = Signal(int, object)
    people_changed = Signal()
    hotkey_pressed = Signal(str)  # emitted on a backend's thread, delivered queued on the GUI thread
    no_sound = Signal(str)  # emitted on the narrator's thread when there is no sound device

    def __init__(self, settings: Settings | None = None, *, force_window: bool = False,
                 stage_loader: Callable[[Settings], Any] = default_stage_loader,
                 speaker_factory: Callable[[Settings], Any] = default_speaker,
                 narrator: Narrator | None = None, use_hotkeys: bool = True) -> None:
        super().__init__()
        self.settings = settings or Settings.load()
        self.gate = RequestGate()
        self.narrator = narrator or Narrator(output=AudioOut(on_no_device=self.no_sound.emit))
        self.messages = MessagePath(self.narrator.speak)
        self.no_sound.connect(self.messages.notice)
        self.last_spoken: str | None = None
        self.current_request = 0
        self.hotkeys = ActiveHotkeys(None)
        self._use_hotkeys = use_hotkeys
        self._last_press: dict[str, float] = {}
        self._dialogs: dict[str, QWidget] = {}
        self.actions = build_actions(self, self.run_action)
        self.tray: Tray | None = None
        self.window: NoTrayWindow | None = None
        if force_window or not QSystemTrayIcon.isSystemTrayAvailable():
            self.window = NoTrayWindow(self.actions)
        else:
            self.tray = Tray(self.actions)
        view = self.tray or self.window
        assert view is not None
        self.messages.set_notifier(view.notify)
        self.messages.status_changed.connect(lambda text: view.set_status(text, self.current_request != 0))
        self.server = InstanceServer(lambda action_id: action_id in REMOTE_IDS, self)
        self.server.triggered.connect(lambda action_id: self.run_action(action_id, origin="socket"))
        self.hotkey_pressed.connect(lambda action_id: self.run_action(action_id, origin="hotkey"))
        self.engine_thread = QThread()
        self.engine_thread.setObjectName("spacevoice-engine")
        self.worker = EngineWorker(self.settings, self.gate, stage_loader=stage_loader,
                                   speaker_factory=speaker_factory)
        self.worker.moveToThread(self.engine_thread)
        queued = Qt.ConnectionType.QueuedConnection
        self.request_work.connect(self.worker.run, queued)
        self.request_warm_up.connect(self.worker.warm_up, queued)
        self.request_check.connect(self.worker.check_setup, queued)
        self.settings_changed.connect(self.worker.apply_settings, queued)
        self.worker.status.connect(self._on_status, queued)
        self.worker.speaker_ready.connect(self._on_speaker, queued)
        self.worker.described.connect(self._on_described, queued)
        self.worker.failed.connect(self._on_failed, queued)
        self.worker.report.connect(self._on_report, queued)
        self.request_enrol.connect(self.worker.enrol, queued)
        self.people_changed.connect(self.worker.reload_people, queued)
        self.worker.enrolled.connect(self._on_enrolled, queued)
        self.request_download.connect(self.worker.download, queued)
        self.worker.download_progress.connect(self._on_download_progress, queued)
        self.worker.downloaded.connect(self._on_downloaded, queued)
        self.offer: DownloadOffer | None = None
        self._offer_checked = False

    def start(self) -> bool:
        """Claim the single-instance socket, show the tray or window, then load in the background.

        Returns False (and shows nothing) when another SpaceVoice already runs for this user.
        """
        if not self.server.listen():
            return False
        if self.tray is not None:
            self.tray.show()
        if self.window is not None:
            self.window.show()
        self._start_hotkeys()
        self.engine_thread.start()
        # Deferred to the next turn of the event loop, so the icon is drawn before any heavy import.
        QTimer.singleShot(0, self.request_warm_up.emit)
        return True

    def run_action(self, action_id: str, *, origin: str = "menu") -> None:
        """Perform an action from the menu, a hotkey or the socket; repeated presses are debounced."""
        now = time.monotonic()
        if now - self._last_press.get(action_id, -1e9) < DEBOUNCE_SECONDS:
            log.debug("debounced %s from %s", action_id, origin)
            return
        self._last_press[action_id] = now
        log.info("%s from %s", action_id, origin)
        if action_id in WORKER_IDS:
            self._submit(action_id)
        else:
            getattr(self, BY_ID[action_id].handler)()

    def _submit(self, action_id: str) -> None:
        # A new request makes any older one stale: the worker drops it at its next step.
        self.current_request = self.gate.open()
        self.messages.state(f"{BY_ID[action_id].plain_label}...", speak=False)
        request_id = self.current_request
        if self.window is not None and self.window.isActiveWindow() and action_id != "describe-webcam":
            # SpaceVoice's own window would be what gets described: step aside and let the window manager give
            # the focus back to the program underneath first.
            self.window.showMinimized()
            QTimer.singleShot(WINDOW_ASIDE_MS, lambda: self.request_work.emit(request_id, action_id))
            return
        self.request_work.emit(request_id, action_id)

    def stop(self) -> None:
        """Silence speech and cancel any describe in progress, at whatever step it is."""
        self.gate.cancel()
        self.narrator.stop()
        self.current_request = 0
        self.messages.state("Stopped", speak=False)

    def repeat_last(self) -> None:
        """Say the last description again."""
        if self.last_spoken:
            self.messages.result(self.last_spoken)
        else:
            self.messages.state("There is nothing to repeat yet.")

    def read_more(self) -> None:
        """Say the next part of the text the last description stopped at ("... and 84 more lines")."""
        from engine.text.continuation import read_more

        self.messages.result(read_more())

    def show_settings(self) -> None:
        """Open the settings dialog (one at a time)."""
        from desktop.dialogs.settings_dialog import SettingsDialog

        dialog = self._dialogs.get("settings")
        if dialog is None:
            dialog = SettingsDialog(self.settings, hotkeys_summary=self.hotkeys.describe())
            dialog.saved.connect(self.apply_settings)
            self._dialogs["settings"] = dialog
        self._raise(dialog)

    def show_people(self) -> None:
        """Open the people dialog (one at a time)."""
        from desktop.dialogs.people_dialog import PeopleDialog

        dialog = self._dialogs.get("people")
        if dialog is None:
            dialog = PeopleDialog(self.messages, self._enrol)
            dialog.changed.connect(self.people_changed.emit)
            self._dialogs["people"] = dialog
        self._raise(dialog)

    def _enrol(self, name: str, files: object) -> None:
        self.current_request = self.gate.open()
        self.request_enrol.emit(self.current_request, name, files)

    @Slot(int, str)
    def _on_enrolled(self, request_id: int, message: str) -> None:
        if request_id == self.current_request:
            self.current_request = 0
        self.messages.state(message)
        dialog = self._dialogs.get("people")
        if dialog is not None:
            dialog.refresh()  # type: ignore[attr-defined]

    def check_setup(self) -> None:
        """Work out what works here (on the worker) and say it."""
        self.messages.state("Checking the setup...", speak=False)
        self.request_check.emit()

    def quit(self) -> None:
        """Release everything and leave the event loop."""
        self.shutdown()
        QApplication.quit()

    def shutdown(self) -> None:
        """Stop hotkeys, socket, speech and the worker thread (waits for a running step to end)."""
        self.gate.cancel()
        self.hotkeys.stop()
        self.server.close()
        self.narrator.close()
        self.engine_thread.quit()
        self.engine_thread.wait(10_000)
        for dialog in self._dialogs.values():
            dialog.close()
        if self.tray is not None:
            self.tray.hide()
        if self.window is not None:
            self.window.hide()  # hide, not close: closing the window means Quit

    @Slot(object)
    def apply_settings(self, settings: Settings) -> None:
        """Use saved settings at once: hotkeys re-registered, voice re-chosen, models reloaded on next use."""
        from desktop.autostart import set_start_at_login

        self.settings = settings
        self.hotkeys.stop()
        self._start_hotkeys()
        self.settings_changed.emit(settings)
        set_start_at_login(bool(settings.start_at_login))
        dialog = self._dialogs.get("settings")
        if dialog is not None:
            dialog.set_hotkeys_summary(self.hotkeys.describe())  # type: ignore[attr-defined]
        self.messages.state("Settings saved.")

    def _start_hotkeys(self) -> None:
        if self._use_hotkeys:
            self.hotkeys = start_hotkeys(self.settings.as_dict(), self.hotkey_pressed.emit)
        for error in self.hotkeys.errors:
            self.messages.error(error)
        update_hotkey_hints(self.actions, {a: k.readable() for a, k in self.hotkeys.bindings.items()}
                            if self.hotkeys.backend is not None else {})

    def _raise(self, dialog: QWidget) -> None:
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    @Slot(str)
    def _on_status(self, text: str) -> None:
        self.messages.state(text)
        if text == "Ready" and not self._offer_checked:
            self._offer_checked = True
            self.offer_models()

    def offer_models(self) -> None:
        """On first run, offer to download the recommended models that are missing (asked once, ever)."""
        self.offer = offer_if_first_run(self.settings, self._download, self.stop,
                                        lambda text: self.messages.info(text, popup=False))

    def _download(self, names: list[str]) -> None:
        self.current_request = self.gate.open()
        self.messages.state("Downloading the models...", speak=True)
        self.request_download.emit(self.current_request, names)

    @Slot(str, int, int)
    def _on_download_progress(self, label: str, done: int, total: int) -> None:
        if self.offer is not None:
            self.offer.update(label, done, total)

    @Slot(int, str)
    def _on_downloaded(self, request_id: int, message: str) -> None:
        if self.offer is not None:
            self.offer.finish()
        self.current_request = 0
        self.messages.state(message)

    @Slot(object)
    def _on_speaker(self, speaker: Any) -> None:
        if speaker is None:
            self.messages.error("No voice is available, so SpaceVoice can only show what it finds. "
                                "Install espeak-ng (Linux) or check the sound settings, then choose Check setup.")
            return
        self.narrator.set_speaker(speaker, voice=self.settings.voice, rate=self.settings.rate)

    @Slot(int, str, str)
    def _on_described(self, request_id: int, action_id: str, spoken: str) -> None:
        if not self.gate.is_current(request_id):
            return  # stopped or superseded while the result was on its way
        self.current_request = 0
        self.last_spoken = spoken
        self.messages.state("Ready", speak=False)
        self.messages.result(spoken)

    @Slot(int, str)
    def _on_failed(self, request_id: int, message: str) -> None:
        if request_id and not self.gate.is_current(request_id):
            return
        if self.offer is not None:
            self.offer.finish()
        if request_id:
            self.current_request = 0
        self.messages.error(message)

    @Slot(str)
    def _on_report(self, report: str) -> None:
        voice = self.narrator.speaker_name
        lines = [f"Voice: {voice}." if voice else "Voice: none available.", report,
                 self.hotkeys.describe(),
                 "The tray icon is shown." if self.tray is not None else "There is no system tray; "
                 "SpaceVoice shows its own window instead."]
        text = "\n".join(lines)
        self.messages.state("Ready", speak=False)
        self._dialogs["check-setup"] = box = report_box(text)
        self.messages.info(text.replace("\n", " "), title="Check setup", popup=False)
        self._raise(box)

