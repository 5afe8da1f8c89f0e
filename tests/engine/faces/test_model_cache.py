"""The repaired face models are cached: later starts skip the repair (and never import onnx); a damaged cache file
is made again, never used."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def _load_in_fresh_process(home) -> str:
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from engine.faces.models import load_model_files\n"
        "files = load_model_files()\n"
        "print(len(files.detector), len(files.embedder), 'onnx' in sys.modules)\n"
    )
    env = {**os.environ, "SPACEVOICE_HOME": str(home)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_second_start_uses_the_cache_and_a_damaged_cache_is_remade(spacevoice_home):
    first = _load_in_fresh_process(spacevoice_home)
    assert first.endswith("True")  # the first start repairs the models with onnx
    cached = sorted((spacevoice_home / "cache" / "faces").glob("*.onnx"))
    assert len(cached) == 2
    sizes = first.rsplit(" ", 1)[0]
    assert _load_in_fresh_process(spacevoice_home) == f"{sizes} False"

    largest = max(cached, key=lambda path: path.stat().st_size)
    largest.write_bytes(largest.read_bytes()[:1000])  # a cut-off write, or a disk error
    assert _load_in_fresh_process(spacevoice_home) == f"{sizes} True"
