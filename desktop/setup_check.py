"""What works on this computer and what is missing, in sentences a person can act on (no Qt here)."""

from __future__ import annotations

import importlib.util
import shutil
from typing import Any

from engine.settings import Settings

STAGE_NAMES = {"captioner": "Scene descriptions", "faces": "Recognising people", "text": "Reading text"}


def recogniser_lines(settings: Settings, stages: Any) -> list[str]:
    """One sentence per recogniser: ready, switched off in Settings, or missing with the reason."""
    switches = {"captioner": "include_scene", "faces": "include_people", "text": "include_text"}
    lines: list[str] = []
    for name, label in STAGE_NAMES.items():
        if not settings.get(switches[name]):
            lines.append(f"{label}: switched off in Settings.")
        elif stages is not None and getattr(stages, name, None) is not None:
            lines.append(f"{label}: ready.")
        else:
            reason = (getattr(stages, "missing", {}) or {}).get(name, "not loaded.")
            lines.append(f"{label}: {reason}")
    return lines


def setup_report(settings: Settings, stages: Any) -> str:
    """The recognisers, the compute device and the OCR engine, one sentence per line."""
    lines = recogniser_lines(settings, stages)
    try:
        from engine.runtime import provider_order

        providers = provider_order(settings.device)
        device = "the graphics card" if providers[0] != "CPUExecutionProvider" else "the processor (CPU)"
        lines.append(f"Models run on {device}.")
    except Exception as error:  # a broken onnxruntime install is exactly what this report is for
        lines.append(f"The model runtime does not work: {error}")
    if settings.include_text and shutil.which("tesseract") is None:
        lines.append("Tesseract is not installed, so text can only be read with the ONNX reader if it is installed.")
    if importlib.util.find_spec("sounddevice") is None:
        lines.append("The sound output library is missing, so speech cannot be heard.")
    else:
        from engine.speech.sound_device import find_sound_output

        lines.append(find_sound_output().line())
    lines.append(screen_reader_line(settings))
    return "\n".join(lines)


def screen_reader_line(settings: Settings) -> str:
    """Whether a screen reader runs, and what the ``speak_through`` setting makes of it."""
    from engine.speech.screen_reader import running_screen_reader, speaks_through

    running = running_screen_reader()
    own, reader = speaks_through(str(settings.speak_through), running)
    where = " and ".join([*(["its own voice"] if own else []), *(["the screen reader"] if reader else [])])
    found = f"{running[0].upper()}{running[1:]} is running" if running else "No screen reader is running"
    return f"{found}; SpaceVoice speaks through {where} (Speak through: {settings.speak_through})."
