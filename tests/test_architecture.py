"""Architecture rules that keep SpaceVoice lean: engine/ never imports Qt, and the runtime path never imports
torch, transformers or optimum (those are for export, parity tests and benchmarks only)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "optimum", "snac", "accelerate", "piper")  # piper: piper-tts, GPL-3.0
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_engine_source_never_imports_qt():
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported_modules(path) & set(QT))
        for path in (ROOT / "engine").rglob("*.py")
        if _imported_modules(path) & set(QT)
    }
    assert offenders == {}


def _modules_after(code: str) -> set[str]:
    script = (
        "import sys, json\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        f"{code}\n"
        "print('\\n' + json.dumps(sorted(sys.modules)))\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return set(json.loads(completed.stdout.strip().splitlines()[-1]))


def test_importing_every_engine_module_loads_no_qt():
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in (ROOT / "engine").rglob("*.py")
        if "export" not in path.name  # export tooling may import torch, never Qt
    )
    loaded = _modules_after("import importlib\n" + "\n".join(f"importlib.import_module({m!r})" for m in modules))
    assert not {m.split(".")[0] for m in loaded} & set(QT)


def test_describe_runtime_path_imports_no_torch_or_transformers(spacevoice_home):
    sample = ROOT / "resources" / "samples" / "astronaut.png"
    loaded = _modules_after(
        "import os\n"
        f"os.environ['SPACEVOICE_HOME'] = {str(spacevoice_home)!r}\n"
        "import main\n"
        f"assert main.main(['describe', '--image', {str(sample)!r}, '--no-speech']) == 0\n"
    )
    assert not {m.split(".")[0] for m in loaded} & set(HEAVY + QT)
