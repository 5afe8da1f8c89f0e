"""``main.py self-test`` (``--self-test`` in the frozen app): proves an installation works, offline, in seconds.

It loads the embedded face models, describes the bundled sample photo, renders the description to a WAV file
with the system voice, checks that no export tooling (torch, transformers, optimum) was imported and that
onnxruntime's telemetry is off (its folder in ~/.cache/Microsoft neither made nor held open), and fails on
any unexpected error output: a warning, a log record at WARNING or above, or anything written to stderr (by
Python or by a native library) while it runs. Installers and CI run it right after installing.

By default it runs against a fresh temporary SpaceVoice folder, so the result does not depend on (and never
touches) the user's settings, people or models; ``--user-data`` checks the user's own setup instead.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cli.error_output import watch_error_output
from engine.errors import SpaceVoiceError

SAMPLE_IMAGE = ("samples", "astronaut.png")
EXPORT_TOOLING = ("torch", "transformers", "optimum")
# A rendered sentence shorter than this, or quieter than this RMS (full scale 1.0), is not speech.
MIN_SPEECH_SECONDS = 0.3
MIN_SPEECH_RMS = 0.005


class SelfTestFailed(SpaceVoiceError):
    """The installation does not work as shipped."""

    exit_code = 1


class SelfTestNote(Exception):
    """Something the user should know and can act on (no sound device) that does not make the installation fail."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``self-test`` command."""
    parser = sub.add_parser("self-test", help="check this installation: face models, a description, the system voice")
    parser.add_argument("--user-data", action="store_true",
                        help="use your own settings, people and models (default: a fresh temporary folder)")
    parser.add_argument("--wav", type=Path, metavar="FILE.wav", help="keep the rendered speech in this file")
    parser.add_argument("--expect-provider", action="append", default=[], metavar="NAME",
                        help="fail unless onnxruntime offers this provider (e.g. CUDAExecutionProvider)")
    parser.add_argument("--device", choices=("auto", "cuda", "directml", "cpu"),
                        help="where models run for this test (default: the device setting)")
    parser.set_defaults(func=run)


@contextlib.contextmanager
def fresh_home(enabled: bool) -> Iterator[None]:
    """Point SPACEVOICE_HOME at a new temporary folder for the block (when ``enabled``)."""
    if not enabled:
        yield
        return
    saved = {name: os.environ.get(name) for name in ("SPACEVOICE_HOME", "SPACEVOICE_MODELS")}
    with tempfile.TemporaryDirectory(prefix="spacevoice-selftest-", ignore_cleanup_errors=True) as home:
        os.environ["SPACEVOICE_HOME"] = home
        os.environ.pop("SPACEVOICE_MODELS", None)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def check_embedded_models(state: dict[str, Any]) -> str:
    """Load the face models shipped inside the app into onnxruntime sessions."""
    from engine.faces.models import load_model_files
    from engine.runtime import create_session

    settings = state["settings"]
    files = load_model_files(settings.models_dir or None)
    detector = create_session(files.detector, name="face detector", device=settings.device)
    embedder = create_session(files.embedder, name="face embedder", device=settings.device)
    return f"{files.origin} face detector and embedder on {detector.get_providers()[0]}, {embedder.get_providers()[0]}"


def check_describe(state: dict[str, Any]) -> str:
    """Describe the bundled sample photo with every stage this installation has."""
    from engine.capture import load_image
    from engine.describe import describe_frame
    from engine.paths import resources_dir
    from engine.pipeline import load_stages

    stages = load_stages(state["settings"])
    description = describe_frame(load_image(resources_dir().joinpath(*SAMPLE_IMAGE)), stages)
    failed = [w for w in description.warnings if w not in stages.missing.values()]
    if failed:
        raise SelfTestFailed(f"describing the sample photo went wrong: {failed[0]}")
    if not description.spoken.strip():
        raise SelfTestFailed("describing the sample photo gave nothing to say")
    if stages.faces is not None and not description.people:
        raise SelfTestFailed("the face step found no face in the sample photo, which shows one")
    state["spoken"] = description.spoken
    missing = f"; not available: {', '.join(sorted(stages.missing))}" if stages.missing else ""
    return f'"{description.spoken}"{missing}'


def check_system_voice(state: dict[str, Any]) -> str:
    """Render the description to a WAV file with the system voice and check it holds speech."""
    target: Path = state["wav"]
    text = state.get("spoken") or "SpaceVoice is ready."
    try:
        from engine.speech.choice import say
    except ModuleNotFoundError as error:
        if error.name != "engine.speech.choice":
            raise
        _render_with_pyttsx3(text, target)
    else:
        # pyttsx3 announces every saved file on stdout; the self-test prints its own report instead.
        with contextlib.redirect_stdout(io.StringIO()):
            say(text, state["settings"], out=target, engine="system")
    seconds, rms = wav_speech_level(target)
    if seconds < MIN_SPEECH_SECONDS or rms < MIN_SPEECH_RMS:
        raise SelfTestFailed(f"the system voice rendered no audible speech ({seconds:.2f} s, level {rms:.4f})")
    return f"{seconds:.1f} s of speech (level {rms:.3f})"


def _render_with_pyttsx3(text: str, target: Path) -> None:
    import pyttsx3

    engine = pyttsx3.init()
    with contextlib.redirect_stdout(io.StringIO()):
        engine.save_to_file(text, str(target))
        engine.runAndWait()


def wav_speech_level(path: Path) -> tuple[float, float]:
    """Duration in seconds and RMS level (full scale 1.0) of a PCM WAV file; (0, 0) when it is missing or empty."""
    import numpy as np

    if not path.is_file() or path.stat().st_size == 0:
        return 0.0, 0.0
    with wave.open(str(path), "rb") as audio:
        width, rate, frames = audio.getsampwidth(), audio.getframerate(), audio.readframes(audio.getnframes())
    dtype = {1: np.uint8, 2: np.int16, 4: np.int32}.get(width)
    if dtype is None or not frames:
        return 0.0, 0.0
    samples = np.frombuffer(frames, dtype=dtype).astype(np.float64)
    if width == 1:
        samples -= 128.0
    samples /= float(2 ** (8 * width - 1))
    return len(samples) / float(rate * 1), float(np.sqrt(np.mean(samples**2)))


def check_runtime_only(state: dict[str, Any]) -> str:
    """The runtime path must never have imported the export tooling."""
    loaded = [name for name in EXPORT_TOOLING if name in sys.modules]
    if loaded:
        raise SelfTestFailed(f"the runtime imported export tooling: {', '.join(loaded)}")
    return "no torch, transformers or optimum imported"


def check_providers(state: dict[str, Any]) -> str:
    """List onnxruntime's execution providers; fail when one the caller expects is absent."""
    import onnxruntime

    available = onnxruntime.get_available_providers()
    absent = [name for name in state["expect_providers"] if name not in available]
    if absent:
        raise SelfTestFailed(f"onnxruntime {onnxruntime.__version__} does not offer {', '.join(absent)}")
    return f"onnxruntime {onnxruntime.__version__}: {', '.join(available)}"


def check_desktop(state: dict[str, Any]) -> str:
    """Qt and its platform plugin load (the tray app's libraries); skipped where there is no display."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "skipped: no display"
    from PySide6.QtWidgets import QApplication, QSystemTrayIcon

    app = QApplication.instance() or QApplication([sys.argv[0]])
    tray = "a tray" if QSystemTrayIcon.isSystemTrayAvailable() else "no tray (SpaceVoice opens a window instead)"
    return f"Qt platform {app.platformName()}, {tray}"  # type: ignore[attr-defined]


def check_telemetry(state: dict[str, Any]) -> str:
    """onnxruntime's telemetry is off: switched off in time, its folder neither made nor held open by this run."""
    from engine.privacy import open_telemetry_files, telemetry_folder, telemetry_problems

    problems = telemetry_problems()
    folder = telemetry_folder()
    if not state["telemetry_folder_existed"] and folder.is_dir():
        problems.append(f"onnxruntime made its telemetry folder {folder}")
    held = open_telemetry_files()
    if held:
        problems.append(f"onnxruntime holds its telemetry queue open ({Path(held[0]).name} in {folder})")
    if problems:
        raise SelfTestFailed(f"onnxruntime's telemetry is on: {'; '.join(problems)}")
    return "onnxruntime telemetry off, nothing of it made or open"
def check_sound_output(state: dict[str, Any]) -> str:
    """Is there a sound output device to hear the voice on? Its absence is reported with what to do, not failed:
    the installation works (speech can be written to files or go through a screen reader)."""
    from engine.speech.sound_device import find_sound_output

    sound = find_sound_output()
    if not sound.available:
        raise SelfTestNote(str(sound.problem))
    return sound.line().removeprefix("Sound output: ")


CHECKS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("providers", check_providers),
    ("embedded models", check_embedded_models),
    ("describe sample", check_describe),
    ("system voice", check_system_voice),
    ("sound output", check_sound_output),
    ("desktop", check_desktop),
    ("runtime only", check_runtime_only),
    ("telemetry", check_telemetry),
)


def run(args: argparse.Namespace) -> int:
    """Run every check, print one line each, and raise `SelfTestFailed` when any failed or anything complained."""
    from engine.privacy import telemetry_folder
    from engine.settings import Settings

    started = time.perf_counter()
    telemetry_folder_existed = telemetry_folder().is_dir()  # before any check can load onnxruntime
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="spacevoice-wav-", ignore_cleanup_errors=True) as scratch:
        state: dict[str, Any] = {"wav": args.wav or Path(scratch) / "self-test.wav",
                                 "expect_providers": list(args.expect_provider),
                                 "telemetry_folder_existed": telemetry_folder_existed}
        with fresh_home(not args.user_data), watch_error_output() as seen:
            state["settings"] = Settings.load()
            if args.device:
                state["settings"].set("device", args.device)
            report = [_run_check(name, check, state, failures) for name, check in CHECKS]
    for line in report:
        print(line)
    unexpected = seen.lines()
    if unexpected:
        failures.append(f"unexpected error output: {unexpected[0]}"
                        + (f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""))
    total = (time.perf_counter() - started) * 1000
    if failures:
        raise SelfTestFailed(f"self-test failed: {'; '.join(failures)}")
    print(f"self-test passed in {total:.0f} ms")
    return 0


def _run_check(name: str, check: Callable[[dict[str, Any]], str], state: dict[str, Any], failures: list[str]) -> str:
    start = time.perf_counter()
    status = "ok  "
    try:
        detail = check(state)
    except SelfTestNote as note:
        status, detail = "note", str(note)
    except SpaceVoiceError as error:
        status, detail = "FAIL", str(error)
    except Exception as error:  # every check runs, so one report shows everything that is broken
        status, detail = "FAIL", f"{type(error).__name__}: {error}"
    if status == "FAIL":
        failures.append(f"{name}: {detail}")
    return f"{status} {name:<16} {(time.perf_counter() - start) * 1000:7.0f} ms  {detail}"
