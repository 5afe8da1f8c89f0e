"""``main.py models export --task vlm`` and ``main.py ask`` end to end, as a user runs them, on the tiny SmolVLM.

The export runs once per session through the command line, into a store the tests share; each test then chooses
it with ``settings set vlm`` in its own home folder. (The int8 export is tested in tests/engine/test_vlm.py: a
32-wide tiny model loses its taught answer to int8 rounding, so the answers here come from fp32.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_main
from tests.tiny_vlm import teaching_pictures, tiny_smolvlm

NAME = "tiny-vlm"


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a model store holding the tiny model, exported by ``main.py models export``."""
    source, _ = tiny_smolvlm()
    base = tmp_path_factory.mktemp("vlm-store")
    env = {"SPACEVOICE_HOME": str(base / "home"), "SPACEVOICE_MODELS": str(base / "models")}
    result = run_main("models", "export", str(source), "--task", "vlm", "--name", NAME, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == NAME  # the name alone on stdout, for scripts
    return {"SPACEVOICE_MODELS": env["SPACEVOICE_MODELS"]}


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "wide.png"
    Image.fromarray(teaching_pictures()[0][0]).save(path)
    return path


def _ask(store: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_main("ask", *args, env=store)


def _chosen(store: dict[str, str]) -> None:
    assert run_main("settings", "set", "vlm", NAME, env=store).returncode == 0


def test_the_export_is_in_the_transformers_js_layout(store) -> None:
    listing = json.loads(run_main("models", "list", "--json", env=store).stdout)
    row = next(r for r in listing["models"] if r["name"] == NAME)
    assert row["task"] == "vlm" and row["state"] == "installed"
    folder = Path(store["SPACEVOICE_MODELS"]) / NAME
    names = sorted(p.name for p in (folder / "onnx").iterdir())
    assert names == ["decoder_model_merged.onnx", "embed_tokens.onnx", "vision_encoder.onnx"]
    assert (folder / "chat_template.jinja").is_file() and (folder / "tokenizer.json").is_file()


def test_ask_about_an_image_prints_the_json_contract_without_torch(store, picture) -> None:
    _chosen(store)
    script = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "import main\n"
        f"code = main.main(['ask', 'What is in this picture?', '--image', {str(picture)!r}, '--json', "
        "'--no-speech', '--greedy'])\n"
        "print(json.dumps({'code': code, 'heavy': sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers', 'optimum'))}))\n"
    )
    import os

    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT,
                            env={**os.environ, **store})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    payload, report = json.loads(lines[-2]), json.loads(lines[-1])
    assert report == {"code": 0, "heavy": []}  # the runtime path needs onnxruntime only
    assert set(payload) == {"question", "answer", "model", "source", "timings_ms", "warnings"}
    assert set(payload["timings_ms"]) == {"capture", "vision", "first_token", "total"}
    assert payload["question"] == "What is in this picture?" and payload["model"] == NAME
    assert payload["source"] == "image" and payload["warnings"] == []
    assert "red car" in payload["answer"]  # the tiny model's taught answer
    timings = payload["timings_ms"]
    assert 0 < timings["first_token"] < timings["total"] and timings["vision"] > 0


def test_bad_input_is_one_plain_line_each(store, picture, tmp_path: Path) -> None:
    no_model = _ask(store, "What is this?", "--image", str(picture), "--no-speech")
    assert no_model.returncode == 4 and "No vision-language model is chosen" in no_model.stderr
    _chosen(store)
    cases = [
        (("   ", "--image", str(picture)), 2, "The question is empty."),
        (("x" * 10_000, "--image", str(picture)), 2, "10,000 characters long"),
        (("What is this?",), 2, "There is no picture to ask about"),
    ]
    for args, code, words in cases:
        result = _ask(store, *args, "--no-speech")
        assert (result.returncode, result.stderr.count("\n")) == (code, 1), result.stderr
        assert words in result.stderr and "Traceback" not in result.stderr
    other = tmp_path / "llama"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "llama"}))
    assert run_main("settings", "set", "vlm", str(other)).returncode == 0
    wrong = _ask(store, "What is this?", "--image", str(picture), "--no-speech")
    assert (wrong.returncode, wrong.stderr.count("\n")) == (4, 1)
    assert "llama model, not a vision-language model" in wrong.stderr


def test_ask_without_a_picture_uses_the_last_one_only_when_the_user_turned_that_on(store, picture) -> None:
    from engine.vlm.remembered import picture_file

    _chosen(store)
    assert _ask(store, "What is in this picture?", "--image", str(picture), "--no-speech").returncode == 0
    assert not picture_file().exists()  # never kept by default
    assert run_main("settings", "set", "vlm_remember_picture", "true").returncode == 0
    assert _ask(store, "What is in this picture?", "--image", str(picture), "--no-speech").returncode == 0
    assert picture_file().is_file()
    again = _ask(store, "Is the man smiling?", "--json", "--no-speech", "--greedy")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["source"] == "remembered"
    assert run_main("settings", "set", "vlm_remember_picture", "false").returncode == 0
    off = _ask(store, "Is the man smiling?", "--no-speech")
    assert off.returncode == 2 and not picture_file().exists()


def test_ask_writes_the_spoken_answer_to_a_wav_file(store, picture, tmp_path: Path) -> None:
    _chosen(store)
    out = tmp_path / "answer.wav"
    result = _ask(store, "What is in this picture?", "--image", str(picture), "--out", str(out), "--greedy")
    assert result.returncode == 0, result.stderr
    assert "red car" in result.stdout
    with wave.open(str(out)) as wav:
        assert wav.getnframes() / wav.getframerate() > 2.0  # several sentences of speech


def test_ask_speaks_the_answer_to_the_sound_device(store, picture, tmp_path: Path) -> None:
    # ALSA's null device takes the audio as fast as it comes (the paced sink would play all twelve sentences in
    # real time); tests/engine/test_vlm_speech.py shows the first sentence is voiced before the answer is written.
    from tests.engine.speech.audio_sink import NULL_CONF, alsa_env

    _chosen(store)
    env = alsa_env(tmp_path / "alsa", NULL_CONF)
    result = run_main("ask", "What is in this picture?", "--image", str(picture), "--greedy", env={**store, **env})
    assert result.returncode == 0, result.stderr
    assert "red car" in result.stdout and result.stderr == ""


def test_a_black_picture_is_still_asked_about_with_a_warning(store, tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    _chosen(store)
    black = tmp_path / "black.png"
    Image.fromarray(np.zeros((300, 400, 3), dtype=np.uint8)).save(black)
    result = _ask(store, "Is the screen off?", "--image", str(black), "--json", "--no-speech", "--greedy")
    assert result.returncode == 0, result.stderr
    assert any("black" in warning for warning in json.loads(result.stdout)["warnings"])
