"""The Windows installer script compiles with makensis (both flavours) against a placeholder payload, and the
installer it produces carries exactly that payload plus an uninstaller. The real payload can only be frozen on
Windows: .github/workflows/windows.yml builds it, installs it and runs the installed app's self-test there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "installer" / "windows" / "spacevoice.nsi"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing; scripts/bootstrap.sh installs it")
        pytest.skip(f"{name} is not installed")
    return path


@pytest.fixture(scope="module")
def payload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in for the frozen Windows folder: the two executables, the data folder and the sample picture."""
    folder = tmp_path_factory.mktemp("payload") / "spacevoice"
    (folder / "_internal" / "resources" / "samples").mkdir(parents=True)
    (folder / "spacevoice.exe").write_bytes(b"MZ console placeholder")
    (folder / "SpaceVoiceTray.exe").write_bytes(b"MZ windowed placeholder")
    shutil.copy(ROOT / "resources" / "samples" / "astronaut.png", folder / "_internal" / "resources" / "samples")
    return folder


def version() -> str:
    """The package version from pyproject.toml."""
    match = re.search(r'(?m)^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert match
    return match.group(1)


def compile_installer(payload: Path, out: Path, flavour: str) -> subprocess.CompletedProcess[str]:
    """Run makensis on the real script; warnings count as errors."""
    return subprocess.run(
        [_tool("makensis"), "-V2", "-WX", f"-DFLAVOUR={flavour}", f"-DPAYLOAD={payload}", f"-DVERSION={version()}",
         f"-DOUTDIR={out}", str(SCRIPT)],
        capture_output=True, text=True, timeout=300,
    )


@pytest.mark.parametrize("flavour", ["cpu", "nvidia"])
def test_installer_compiles_and_carries_the_payload(payload: Path, tmp_path: Path, flavour: str) -> None:
    done = compile_installer(payload, tmp_path, flavour)
    assert done.returncode == 0, done.stdout + done.stderr
    setup = tmp_path / f"SpaceVoice-{version()}-{flavour}-setup.exe"
    assert setup.read_bytes()[:2] == b"MZ"
    listing = subprocess.run([_tool("7zz"), "l", "-slt", str(setup)], capture_output=True, text=True,
                             check=True, timeout=120).stdout
    names = {line.split(" = ", 1)[1].replace("\\", "/") for line in listing.splitlines()
             if line.startswith("Path = ")}
    expected = {p.relative_to(payload).as_posix() for p in payload.rglob("*") if p.is_file()}
    assert expected <= names
    assert "uninstall.exe" in names
    assert "NSIS-3 Unicode" in listing


def test_the_two_flavours_are_told_apart(payload: Path, tmp_path: Path) -> None:
    for flavour in ("cpu", "nvidia"):
        assert compile_installer(payload, tmp_path, flavour).returncode == 0
    cpu = (tmp_path / f"SpaceVoice-{version()}-cpu-setup.exe").read_bytes()
    nvidia = (tmp_path / f"SpaceVoice-{version()}-nvidia-setup.exe").read_bytes()
    # The flavour shows in the installer's file properties (its version resource, UTF-16, never compressed).
    assert "NVIDIA GPU".encode("utf-16-le") in nvidia
    assert "NVIDIA GPU".encode("utf-16-le") not in cpu


def test_an_unknown_flavour_or_missing_payload_is_refused(payload: Path, tmp_path: Path) -> None:
    wrong = compile_installer(payload, tmp_path, "amd")
    assert wrong.returncode != 0 and "FLAVOUR must be cpu or nvidia" in wrong.stdout + wrong.stderr
    missing = compile_installer(tmp_path / "nothing-here", tmp_path, "cpu")
    assert missing.returncode != 0
    assert not list(tmp_path.glob("*.exe"))


def test_windows_executables_differ_by_more_than_case() -> None:
    # Windows file names ignore case: two executables named alike would overwrite each other in one folder.
    spec = (ROOT / "installer" / "spacevoice.spec").read_text(encoding="utf-8")
    executables = re.findall(r'\bname="([^"]+)"', spec)[:-1]  # the last name is the output folder (COLLECT)
    assert executables == ["spacevoice", "SpaceVoiceTray"]
    assert len({name.lower() for name in executables}) == len(executables)
    script = SCRIPT.read_text(encoding="utf-8")
    assert "$INSTDIR\\SpaceVoiceTray.exe" in script and "$INSTDIR\\spacevoice.exe" in script
