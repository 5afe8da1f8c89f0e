"""One declarative table of settings drives storage, the settings dialog and the command line.

Each `Setting` has a name, a type, a default and a help text a person can read. `Settings` loads the user's
file (unknown or invalid values fall back to defaults with a warning, the file is never lost) and saves it
atomically.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import paths
from engine.atomicfile import write_atomic, writer_lock
from engine.errors import DataError, save_error
from engine.settings_file import read_settings_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Setting:
    """One user setting: its name, type, default, help text and, for choices, the allowed values."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    group: str = "General"
    minimum: float | None = None  # bounds for numbers: a value outside them is refused with the range
    maximum: float | None = None


SETTINGS: tuple[Setting, ...] = (
    # Hotkeys: defaults chosen not to clash with NVDA, JAWS, Narrator or Orca.
    Setting("hotkey_describe_screen", str, "<ctrl>+<alt>+<shift>+d", "Describe the whole screen.", group="Hotkeys"),
    Setting("hotkey_describe_window", str, "<ctrl>+<alt>+<shift>+w", "Describe the active window.", group="Hotkeys"),
    Setting("hotkey_describe_webcam", str, "<ctrl>+<alt>+<shift>+c", "Describe what the webcam sees.", group="Hotkeys"),
    Setting("hotkey_read_text", str, "<ctrl>+<alt>+<shift>+t", "Read the text on the screen.", group="Hotkeys"),
    Setting("hotkey_repeat", str, "<ctrl>+<alt>+<shift>+r", "Repeat the last description.", group="Hotkeys"),
    Setting("hotkey_read_more", str, "<ctrl>+<alt>+<shift>+m", "Read on where the last description stopped.",
            group="Hotkeys"),
    Setting("hotkey_stop", str, "<ctrl>+<alt>+<shift>+s", "Stop speaking at once.", group="Hotkeys"),
    Setting("hotkey_show_results", str, "<ctrl>+<alt>+<shift>+v", "Show the results window.", group="Hotkeys"),
    Setting("hotkey_copy_last", str, "<ctrl>+<alt>+<shift>+y", "Copy the last result to the clipboard.",
            group="Hotkeys"),
    Setting("speech_engine", str, "auto", "Which voice speaks: auto picks Orpheus only when this computer can "
            "run it in real time, else the Piper voice, else the system voice; remote is Orpheus on your server.",
            choices=("auto", "orpheus", "piper", "system", "remote"), group="Speech"),
    Setting("piper_voice", str, "en_US-joe-medium", "Piper voice (built in: en_US-joe-medium; more with "
            "main.py models download).", group="Speech"),
    Setting("voice", str, "tara", "Orpheus voice.", choices=("tara", "leah", "jess", "leo", "dan", "mia", "zac", "zoe"),
            group="Speech"),
    Setting("system_voice", str, "", "System voice name or id (empty: the system default).", group="Speech"),
    Setting("rate", int, 180, "Speaking rate, in words per minute.", group="Speech", minimum=80, maximum=900),
    Setting("speak_through", str, "auto", "Where SpaceVoice speaks: own (its voice), screen_reader (your screen "
            "reader's voice and braille display: NVDA, JAWS, Orca or speech-dispatcher), both, or auto (the screen "
            "reader when one runs, else its own voice).", choices=("auto", "own", "screen_reader", "both"),
            group="Speech"),
    Setting("device", str, "auto", "Where models run: auto uses an NVIDIA or DirectML GPU when present.",
            choices=("auto", "cuda", "directml", "cpu"), group="Models"),
    Setting("models_dir", str, "", "Folder of the model store (empty: inside the SpaceVoice data folder).",
            group="Models"),
    Setting("captioner", str, "florence-2-base-ft", "Scene model used to caption pictures.", group="Models"),
    Setting("florence_precision", str, "auto", "Florence-2 weights: auto takes int8 on a CPU and fp16 on a GPU.",
            choices=("auto", "fp32", "fp16", "int8", "q4"), group="Models"),
    Setting("scene_task", str, "auto", "What a Florence-2 scene model says: auto gives a detailed caption and the "
            "main objects.", choices=("auto", "more-detailed", "detailed", "caption", "objects", "regions", "text"),
            group="Description"),
    Setting("vlm", str, "", "Vision-language model that answers questions about a picture (main.py ask; empty: "
            "none chosen). Export one with: main.py models export SOURCE --task vlm.", group="Models"),
    Setting("vlm_max_tiles", int, 1, "Picture tiles a vision-language model sees besides the whole picture: 1 only "
            "the whole picture (fastest on a CPU), more for small text, 0 as the model's own processor says.",
            group="Models", minimum=0, maximum=36),
    Setting("vlm_remember_picture", bool, False, "Keep the last picture on disk so that main.py ask without a "
            "picture can ask about it (off: pictures are never kept).", group="Models"),
    Setting("webcam_device", str, "0", "Webcam: a device number, or a video file or stream address.",
            group="Capture"),
    Setting("include_scene", bool, True, "Descriptions include a caption of the scene.", group="Description"),
    Setting("include_people", bool, True, "Descriptions name the people you enrolled.", group="Description"),
    Setting("include_text", bool, True, "Descriptions read the text they see.", group="Description"),
    Setting("ocr_engine", str, "auto", "How text is read: tesseract, or the ONNX reader that can use the GPU.",
            choices=("auto", "tesseract", "onnx"), group="Description"),
    Setting("ocr_languages", str, "eng", "Tesseract language packs to read, joined by +: eng, eng+rus, eng+deu.",
            group="Description"),
    Setting("remote_enabled", bool, False, "Use a server on your network for describing and for the Orpheus voice. "
            "Turn it on with: main.py remote enable (it says first what will be sent).", group="Remote"),
    Setting("remote_url", str, "", "Address of an OpenAI-compatible server (llama.cpp, Ollama, LM Studio, vLLM), "
            "e.g. http://192.168.1.20:8080", group="Remote"),
    Setting("remote_describer_model", str, "", "The server's vision model, for captioner remote.", group="Remote"),
    Setting("remote_voice_model", str, "", "The server's Orpheus model, for speech_engine remote.", group="Remote"),
    Setting("remote_allow_http", str, "", "A public address you confirmed for plain http:// (main.py remote enable "
            "--allow-http).", group="Remote"),
    Setting("keep_thumbnails", bool, False, "Keep a small photo of each enrolled person.", group="People"),
    Setting("start_at_login", bool, False, "Start SpaceVoice when you log in.", group="General"),
    Setting("keep_results_history", bool, False, "Also keep every result in a history file only you can read "
            "(off: results stay in memory until SpaceVoice closes).", group="General"),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}

# Settings renamed or removed since a file may have been written (qutebrowser's `Migrations`): old name -> new
# name, or None when the setting is gone. A file from an older SpaceVoice keeps the user's value under the new
# name (and is rewritten so at the next save), and a removed setting is dropped without a warning at every start.
MIGRATIONS: dict[str, str | None] = {}


def migrate(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with renamed settings under their new names and removed ones dropped (a value already stored
    under the new name wins)."""
    migrated = {name: value for name, value in values.items() if name not in MIGRATIONS}
    for old, new in MIGRATIONS.items():
        if old in values and new is not None:
            migrated.setdefault(new, values[old])
            log.info("setting %s is now called %s", old, new)
    return migrated


def settings_file() -> Path:
    """The user's settings file."""
    return paths.config_dir() / "settings.json"


def coerce(setting: Setting, value: Any) -> Any:
    """Convert ``value`` (possibly a string from the command line) to the setting's type, or raise ValueError."""
    if setting.type is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{setting.name} must be yes or no")
    if setting.type is not bool and (isinstance(value, bool) or not isinstance(value, str | int | float)):
        raise TypeError(f"{setting.name} must be {'a number' if setting.type in (int, float) else 'text'}")
    result = setting.type(value)
    if isinstance(result, float) and not math.isfinite(result):
        raise ValueError(f"{setting.name} must be a finite number")
    if setting.minimum is not None and setting.maximum is not None and not (
        setting.minimum <= result <= setting.maximum
    ):
        raise ValueError(f"{setting.name} must be between {setting.minimum:g} and {setting.maximum:g}")
    if setting.choices and result not in setting.choices:
        raise ValueError(f"{setting.name} must be one of {', '.join(setting.choices)}")
    return result


class Settings:
    """The user's settings, with defaults for anything unset. Attribute access reads a value."""

    def __init__(self, values: Mapping[str, Any] | None = None, path: Path | None = None) -> None:
        self.path = path
        self.unwritable: str | None = None  # why the file must not be saved over (it could not be read)
        self._values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
        for name, value in migrate(values or {}).items():
            self.set(name, value, strict=False)

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        """Load from ``path`` (default: the user's file). A damaged file is set aside, not overwritten."""
        path = path or settings_file()
        found = read_settings_file(path)  # an unreadable file is left alone, a damaged one set aside
        settings = cls(found.values, path)
        settings.unwritable = found.unwritable
        return settings

    def set(self, name: str, value: Any, *, strict: bool = True) -> None:
        """Set one value, converting its type. Unknown names and bad values raise when ``strict``."""
        setting = BY_NAME.get(name)
        if setting is None:
            if strict:
                raise KeyError(name)
            log.warning("ignoring unknown setting %s", name)
            return
        try:
            self._values[name] = coerce(setting, value)
        except (TypeError, ValueError, OverflowError) as error:  # 1e999 from a file: int(inf) overflows
            if strict:
                raise ValueError(str(error)) from error
            log.warning("ignoring the value of setting %s in the settings file (%s); using %r", name,
                        str(error)[:200], setting.default)

    def get(self, name: str) -> Any:
        """Return one value."""
        return self._values[name]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self) -> dict[str, Any]:
        """All values, defaults included."""
        return dict(self._values)

    def save(self, path: Path | None = None) -> None:
        """Write the settings atomically; only values that differ from the default are stored."""
        target = path or self.path or settings_file()
        if self.unwritable and target == self.path:
            raise DataError(self.unwritable, "Nothing was changed.")
        changed = {s.name: self._values[s.name] for s in SETTINGS if self._values[s.name] != s.default}
        try:
            with writer_lock(target):  # lets the next start tell a killed writer's temp file from a live one
                write_atomic(target, json.dumps(changed, indent=2, sort_keys=True).encode("utf-8"))
        except OSError as error:  # a full disk, a read-only folder: the file as it was is kept
            raise save_error(target, error) from error
        self.path = target
