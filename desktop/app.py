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
from desktop.announce import announce
from desktop.dialogs.download_dialog import DownloadOffer, offer_if_first_run
from desktop.dialogs.report_box import report_box
from desktop.hotkeys import ActiveHotkeys, start_hotkeys
from desktop.instance import InstanceServer
from desktop.messages import MessagePath
from desktop.no_tray_window import NoTrayWindow
from desktop.requests import RequestGate
from desktop.results_view import ResultsView
from desktop.settings_watch import SettingsWatch
from desktop.tray import Tray, build_actions, update_hotkey_hints
from desktop.worker import EngineWorker, default_speaker, default_stage_loader
from engine.settings import Settings
from engine.speech.narrator import AudioOut, Narrator
from engine.speech.speech_route import SpeechRoute

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
    request_enrol = Signal(int, object)
    request_download = Signal(int, object)
    people_changed = Signal()
    hotkey_pressed = Signal(str)  # emitted on a backend's thread, delivered queued on the GUI thread
    no_sound = Signal(str)  # emitted on the narrator's thread when there is no sound device
    route_notice = Signal(str)  # emitted on the speech route's thread: the screen reader cannot be used

    def __init__(self, settings: Settings | None = None, *, force_window: bool = False,
                 stage_loader: Callable[[Settings], Any] = default_stage_loader,
                 speaker_factory: Callable[[Settings], Any] = default_speaker,
                 narrator: Narrator | None = None, use_hotkeys: bool = True) -> None:
        super().__init__()
        self.settings = settings or Settings.load()
        self.gate = RequestGate()
        self.narrator = narrator or Narrator(output=AudioOut(on_no_device=self.no_sound.emit))
        self.messages = MessagePath(lambda text, interrupt=True: self.speech.speak(text, interrupt=interrupt))
        self.route_notice.connect(lambda text: self.messages.info(text))
        self.speech = SpeechRoute(self.narrator, self.settings.speak_through, on_notice=self.route_notice.emit)
        self.no_sound.connect(self._on_no_sound)
        self.sound: Any = None  # engine.speech.sound_device.SoundOutput, once the worker has looked
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
        self.results = ResultsView(self.settings, self.messages, self.window)
        self.messages.set_notifier(view.notify)
        self.messages.status_changed.connect(lambda text: view.set_status(text, self.current_request != 0))
        self.messages.status_changed.connect(self._announce_state)
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
        self.worker.sound_output.connect(self._on_sound_output, queued)
        self.request_enrol.connect(self.worker.enrol, queued)
        self.people_changed.connect(self.worker.reload_people, queued)
        self.worker.enrolled.connect(self._on_enrolled, queued)
        self.worker.question.connect(self._on_enrol_question, queued)
        self.request_download.connect(self.worker.download, queued)
        self.worker.download_progress.connect(self._on_download_progress, queued)
        self.worker.downloaded.connect(self._on_downloaded, queued)
        self.offer: DownloadOffer | None = None
        self._offer_checked = False
        self.settings_watch: SettingsWatch | None = None

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
        # Settings changed from the command line are used at once (the camera, the voice, the hotkeys).
        self.settings_watch = SettingsWatch(lambda: self.settings, self._on_settings_file_changed, self.settings.path,
                                            self)
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
        self.speech.stop()
        self.current_request = 0
        self.messages.state("Stopped", speak=False)

    def repeat_last(self) -> None:
        """Say the last description again."""
        if self.last_spoken:
            self.messages.result(self.last_spoken)
        else:
            self.messages.state("There is nothing to repeat yet.")

    def show_results(self) -> None:
        """Open the results window: every result of this session, newest first."""
        self.results.show()

    def copy_last_result(self) -> None:
        """Put the last result on the clipboard."""
        self.results.copy_last()
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

    def _enrol(self, request: object) -> None:
        self.current_request = self.gate.open()
        self.request_enrol.emit(self.current_request, request)

    @Slot(int, object)
    def _on_enrol_question(self, request_id: int, question: object) -> None:
        if request_id == self.current_request:
            self.current_request = 0
        dialog = self._dialogs.get("people")
        if dialog is not None:
            dialog.ask(*question)  # type: ignore[attr-defined,misc]

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
        self.speech.close()
        self.narrator.close()
        self.engine_thread.quit()
        self.engine_thread.wait(10_000)
        for dialog in self._dialogs.values():
            dialog.close()
        self.results.close()
        if self.tray is not None:
            self.tray.hide()
        if self.window is not None:
            self.window.hide()  # hide, not close: closing the window means Quit

    @Slot(object)
    def apply_settings(self, settings: Settings, said: str = "Settings saved.") -> None:
        """Use saved settings at once: hotkeys re-registered, voice re-chosen, models reloaded on next use."""
        from desktop.autostart import set_start_at_login

        self.settings = settings
        self.results.apply_settings(settings)
        self.speech.set_mode(str(settings.speak_through))
        self.hotkeys.stop()
        self._start_hotkeys()
        self.settings_changed.emit(settings)
        set_start_at_login(bool(settings.start_at_login))
        dialog = self._dialogs.get("settings")
        if dialog is not None:
            dialog.set_hotkeys_summary(self.hotkeys.describe())  # type: ignore[attr-defined]
        self.messages.state(said)

    def _on_settings_file_changed(self, settings: Settings) -> None:
        self.apply_settings(settings, said="Settings changed.")

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
        self.results.add(BY_ID[action_id].plain_label, spoken)
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
    def _announce_state(self, text: str) -> None:
        # For the screen reader, unless SpaceVoice's words already go to it (then it would say them twice).
        if not self.speech.screen_reader:
            source = self.window or (self.tray.menu if self.tray is not None else None)
            if source is not None:
                announce(source, text)

    @Slot(object)
    def _on_sound_output(self, sound: Any) -> None:
        self.sound = sound
        if not sound.available:
            self.messages.notice(sound.problem)

    @Slot(str)
    def _on_no_sound(self, message: str) -> None:
        if self.sound is None or self.sound.available:  # else the worker's fuller notice was shown already
            self.messages.notice(message)

    def _voice_line(self) -> str:
        voice = self.narrator.speaker_name
        if not voice:
            return "Voice: none available."
        if self.sound is not None and not self.sound.available:
            return f"Voice: {voice}, but nothing can be heard: there is no sound output device."
        return f"Voice: {voice}."

    @Slot(str)
    def _on_report(self, report: str) -> None:
        lines = [self._voice_line(), self.speech.describe(), report,
                 self.hotkeys.describe(),
                 "The tray icon is shown." if self.tray is not None else "There is no system tray; "
                 "SpaceVoice shows its own window instead."]
        text = "\n".join(lines)
        self.messages.state("Ready", speak=False)
        self._dialogs["check-setup"] = box = report_box(text)
        self.messages.info(text.replace("\n", " "), title="Check setup", popup=False)
        self._raise(box)

