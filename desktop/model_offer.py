"""The first-run offer to download the recommended models (no Qt here; the dialog is in desktop.dialogs).

The offer is made once per user (a marker file in the config folder records it, whatever the answer), only for
recommended models that are missing, and only when the model catalogue is part of this installation. SpaceVoice
works without them: declining leaves the other recognisers running and ``main.py models download`` is said as the
way to get them later.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Sequence
from typing import Any

from engine import paths
from engine.settings import Settings

log = logging.getLogger(__name__)

MARKER = "first-run-offer-made"


def recommended(settings: Settings) -> list[str]:
    """The models a new user should have: the scene model in the settings (faces and OCR need no download)."""
    return [settings.captioner] if settings.include_scene and settings.captioner else []


def offer_pending() -> bool:
    """True until the first-run offer has been made once."""
    return not (paths.config_dir() / MARKER).exists()


def mark_offer_made() -> None:
    """Remember that the offer was made, so it is never repeated."""
    from engine.atomicfile import write_atomic

    try:
        write_atomic(paths.config_dir() / MARKER, b"1\n")
    except OSError as error:  # a full disk or a read-only folder: the offer comes again next start, nothing worse
        log.warning("could not remember that the model offer was made: %s", error)


def missing_models(settings: Settings) -> list[tuple[str, int | None]]:
    """(name, download size in bytes or None) of each recommended model that is catalogued but not installed."""
    if importlib.util.find_spec("engine.models") is None:
        return []
    from engine.errors import ModelError
    from engine.models import ModelStore

    store = ModelStore.from_settings(settings)
    missing: list[tuple[str, int | None]] = []
    for name in recommended(settings):
        try:
            entry = store.catalogue.find(name)
            if entry is not None and store.state(name) != "installed":
                missing.append((name, entry.known_size()))
        except ModelError as error:
            log.info("cannot check model %s: %s", name, error)
    return missing


def offer_text(missing: Sequence[tuple[str, int | None]]) -> str:
    """The question asked on first run."""
    parts = []
    for name, size in missing:
        parts.append(f"{name} ({size / 1e6:.0f} MB)" if size else name)
    return ("SpaceVoice can describe scenes once it has its scene model: " + ", ".join(parts) + ". "
            "Download it now? It comes from the model's publisher and is checked before use. Without it, SpaceVoice "
            "still reads text and recognises people; you can download it later with: main.py models download.")


def download_models(names: Sequence[str], settings: Settings, progress: Any) -> str:
    """Download ``names`` into the user's model store with verified downloads; return the sentence to say."""
    from engine.models import ModelStore
    from engine.models.download import download_model

    store = ModelStore.from_settings(settings)
    for name in names:
        download_model(store, name, progress=progress)
    return ("Downloaded " + ", ".join(names) + ".") if names else "Nothing to download."


class SignalProgress:
    """An `engine.models.download.Progress` that reports through ``emit(label, done, total)`` and checks
    ``check()`` (which raises to cancel) at every step, so Stop or Cancel ends a download (it resumes later)."""

    def __init__(self, emit: Callable[[str, int, int], None], check: Callable[[], None]) -> None:
        self._emit = emit
        self._check = check
        self._label = ""
        self._total = 0

    def start(self, label: str, total: int | None, done: int = 0) -> None:
        """A file starts."""
        self._check()
        self._label, self._total = label, int(total or 0)
        self._emit(label, done, self._total)

    def update(self, done: int) -> None:
        """Bytes arrived."""
        self._check()
        self._emit(self._label, done, self._total)

    def finish(self) -> None:
        """A file is complete."""
        self._emit(self._label, self._total, self._total)
