"""The values a setting may take, asked of the part of SpaceVoice that uses it, and the check `settings set` runs.

The settings table (`engine.settings`) stays importable without the speech engine, runtime or model store (each
command and the tray read it first), so the backends are asked only here, when a value is checked. The fixed
choices in the table are held equal to their backends' by tests/engine/test_setting_choices.py; a scene model
(``captioner``) has no fixed list: it is any captioner or vision-language model of the catalogue or of the user's
model store, or ``remote``.
"""

from __future__ import annotations

import importlib
from typing import Any

from engine.errors import InputError
from engine.settings import BY_NAME, Settings, coerce

# Setting -> (module, name) of the backend's own list of the values it understands.
BACKEND_CHOICES: dict[str, tuple[str, str]] = {
    "speech_engine": ("engine.speech.choice", "ENGINES"),
    "voice": ("engine.speech.orpheus", "VOICES"),
    "device": ("engine.runtime", "DEVICES"),
}
# A scene model is a captioner or a vision-language model (engine.vlm.captioning), or "remote" (engine.remote).
CAPTIONER_TASKS = ("image-to-text", "vlm")


def backend_choices(name: str) -> tuple[str, ...]:
    """The values the backend behind setting ``name`` understands (empty when it has no fixed list)."""
    if name not in BACKEND_CHOICES:
        return ()
    module, attribute = BACKEND_CHOICES[name]
    return tuple(getattr(importlib.import_module(module), attribute))


def captioner_names(settings: Settings | None = None) -> tuple[str, ...]:
    """Scene models SpaceVoice can use: the catalogue's captioners and vision-language models, any the user
    installed, and the server on the network (``remote``)."""
    from engine.models.store import ModelStore

    store = ModelStore.from_settings(settings)
    names = [entry.name for entry in store.catalogue if entry.task in CAPTIONER_TASKS]
    names += [model.name for model in store.installed() if model.task in CAPTIONER_TASKS]
    return (*dict.fromkeys(names), "remote")


def allowed_values(name: str, settings: Settings | None = None) -> tuple[str, ...]:
    """Every value setting ``name`` may take, when it is a choice (empty for free text, numbers, yes/no)."""
    if name == "captioner":
        return captioner_names(settings)
    return BY_NAME[name].choices or backend_choices(name)


def checked_value(name: str, value: Any, settings: Settings | None = None) -> Any:
    """``value`` converted for setting ``name``; `InputError` in plain words, with the allowed values, when the
    program could not use it."""
    setting = BY_NAME[name]
    allowed = allowed_values(name, settings)
    if allowed and str(value).strip() not in allowed:
        raise InputError(f"{value} is not a {_what(name)} SpaceVoice knows.", f"Use one of: {', '.join(allowed)}.")
    if setting.type in (int, float):
        try:
            setting.type(str(value).strip())
        except ValueError:
            kind = "a whole number" if setting.type is int else "a number"
            raise InputError(f"That value does not fit: {name} must be {kind}, like {setting.default!r}.") from None
    try:
        return coerce(setting, str(value).strip() if allowed else value)
    except ValueError as error:
        raise InputError(f"That value does not fit: {error}.") from None


def _what(name: str) -> str:
    return {"captioner": "scene model", "voice": "voice", "speech_engine": "speech engine",
            "device": "device"}.get(name, "value for " + name)
