"""Fixtures for the tray app tests: a real X display (Xvfb + trayer) for Qt, a speech spy, apps built with the
real engine stages (loaded once per session), and screenshots saved to test-artifacts/desktop/."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.speech.base import SpeechSpy

ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "desktop"

_stage_cache: dict[str, Any] = {}


@pytest.fixture(scope="session")
def gui_display(x_display: str) -> str:
    """The Xvfb display, with Qt told to use it (before pytest-qt creates the QApplication)."""
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    os.environ.pop("WAYLAND_DISPLAY", None)
    return x_display


@pytest.fixture
def gui(gui_display: str, qapp: Any) -> Any:
    """The QApplication on the Xvfb display."""
    qapp.setQuitOnLastWindowClosed(False)
    return qapp


def real_stages(settings: Any) -> Any:
    """The engine's real recognisers (`engine.pipeline.load_stages`), loaded once per test session."""
    if "stages" not in _stage_cache:
        from engine.pipeline import load_stages

        _stage_cache["stages"] = load_stages(settings)
    return _stage_cache["stages"]


@pytest.fixture
def spy() -> SpeechSpy:
    """A speech spy: records each text the app would say."""
    return SpeechSpy()


@pytest.fixture
def make_app(gui: Any, spy: SpeechSpy, qtbot: Any) -> Iterator[Callable[..., Any]]:
    """Build and start a `SpaceVoiceApp` whose voice is the spy; every app is shut down after the test."""
    from desktop.app import SpaceVoiceApp

    apps: list[Any] = []

    def build(*, start: bool = True, stage_loader: Callable[[Any], Any] = real_stages, offer_models: bool = False,
              **options: Any) -> Any:
        options.setdefault("use_hotkeys", False)
        if not offer_models:
            from desktop.model_offer import mark_offer_made

            mark_offer_made()  # the first-run download question is tested on its own
        app = SpaceVoiceApp(stage_loader=stage_loader, speaker_factory=lambda settings: spy, **options)
        apps.append(app)
        if start:
            assert app.start(), "another SpaceVoice answered on this test's socket"
            qtbot.waitUntil(lambda: app.messages.status == "Ready", timeout=60_000)
        return app

    yield build
    for app in apps:
        app.shutdown()


def heard(spy: SpeechSpy, words: str) -> bool:
    """True when the spy heard a text containing ``words`` (case-insensitive)."""
    return any(words.lower() in text.lower() for text in list(spy.spoken))


def screenshot(name: str) -> Path:
    """Save the whole X screen to test-artifacts/desktop/NAME.png (for a person to look at)."""
    from PySide6.QtWidgets import QApplication

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    QApplication.processEvents()
    assert QApplication.primaryScreen().grabWindow(0).save(str(path)), f"could not save {path}"
    return path
