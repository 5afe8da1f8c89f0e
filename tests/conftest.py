"""Shared fixtures: every standard folder redirected to a temporary one, the shared test photos, a real X
display (Xvfb with a tray host) started on demand, and a runner for main.py in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Test modules import onnxruntime themselves, before the engine could switch its telemetry off (engine/privacy.py):
# the test process must not phone home either. The privacy tests run the app in a clean environment without this.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

ROOT = Path(__file__).resolve().parent.parent
# SPACEVOICE_SHARED: the shared folder where it is not beside the checkout (worktrees one level deeper).
SHARED = Path(os.environ.get("SPACEVOICE_SHARED") or ROOT.parent / "shared")


@pytest.fixture(autouse=True)
def spacevoice_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own SpaceVoice home: no test reads or writes the real user's data."""
    home = tmp_path / "spacevoice-home"
    monkeypatch.setenv("SPACEVOICE_HOME", str(home))
    monkeypatch.delenv("SPACEVOICE_MODELS", raising=False)
    monkeypatch.delenv("SPACEVOICE_DEVICE", raising=False)
    return home


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout; skipped when absent, except under CI, where absence fails."""
    if not SHARED.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{SHARED} is missing; CI must have ../shared beside the checkout")
        pytest.skip("../shared is not beside this checkout")
    return SHARED


@pytest.fixture(scope="session")
def faces_dir(shared_dir: Path) -> Path:
    """The real photos of faces in ../shared/testdata/faces."""
    folder = shared_dir / "testdata" / "faces"
    if not folder.is_dir():
        pytest.fail(f"{folder} is missing")
    return folder


def _free_display() -> int:
    for number in range(90, 200):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return number
    raise RuntimeError("no free X display number")


@pytest.fixture(scope="session")
def x_display() -> Iterator[str]:
    """A real X server (Xvfb, 1280x800) with a tray host (trayer); sets DISPLAY for the whole session."""
    if shutil.which("Xvfb") is None:
        if os.environ.get("CI"):
            pytest.fail("Xvfb is not installed; scripts/bootstrap.sh installs it")
        pytest.skip("Xvfb is not installed")
    number = _free_display()
    display = f":{number}"
    server = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-ac"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            pytest.fail("Xvfb did not start")
        time.sleep(0.05)
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    tray = None
    if shutil.which("trayer"):
        tray = subprocess.Popen(
            ["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel", "--width", "200"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
    try:
        yield display
    finally:
        stop_display(old, tray, server)


def stop_display(old_display: str | None, *processes: subprocess.Popen[bytes] | None) -> None:
    """Stop a test display's processes (the X server last) and put DISPLAY back as it was."""
    for process in processes:
        if process is not None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
    if old_display is None:
        os.environ.pop("DISPLAY", None)
    else:
        os.environ["DISPLAY"] = old_display


def run_main(*args: str, env: dict[str, str] | None = None, timeout: float = 300,
             input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python main.py ARGS`` in a subprocess, as a user would; returns the completed process."""
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=ROOT,
        input=input_text,
    )


@pytest.fixture
def main_cli():
    """``run_main`` as a fixture."""
    return run_main


@pytest.fixture(scope="session")
def tiny_florence() -> tuple[Path, Path, Path]:
    """(transformers source, fp32 export, int8 export) of a tiny random Florence-2, cached by content hash.

    Lives under the worktree's ``.cache/tests`` (gitignored) so that later sessions skip the ~30 s export. Treat as
    read-only: it is shared.
    """
    pytest.importorskip("transformers", reason="the export extra is not installed")
    from tests.tiny_florence import build_tiny_florence

    return build_tiny_florence(Path(__file__).resolve().parents[1] / ".cache" / "tests")
