"""``main.py models`` end to end, in a subprocess as a user runs it, against the hub-like server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_main
from tests.engine.test_models_download import REPO, ModelServer, tiny_onnx, write_catalogue


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModelServer]:
    """The server, and a catalogue that names upstream hosts; the mirror variable sends everything to 127.0.0.1."""
    server = ModelServer()
    payloads = {"config.json": b'{"model_type": "vision-encoder-decoder"}', "tokenizer.json": b'{"version": "1.0"}',
                "onnx/encoder_model.onnx": tiny_onnx(4, seed=1),
                "onnx/decoder_model_merged.onnx": tiny_onnx(300_000, seed=2),
                "onnx/decoder_model_merged_quantized.onnx": tiny_onnx(10, seed=3)}
    for path, data in payloads.items():
        server.add(path, data, lfs=path.endswith(".onnx"))
    monkeypatch.setenv("SPACEVOICE_CATALOGUE", str(write_catalogue(tmp_path, "https://huggingface.invalid", payloads)))
    monkeypatch.setenv("SPACEVOICE_MODEL_MIRROR", server.url)
    yield server
    server.close()


def one_plain_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith("spacevoice: ")
    return lines[0]


def test_list_download_verify_remove(hub: ModelServer, spacevoice_home: Path) -> None:
    listed = run_main("models", "list")
    assert listed.returncode == 0
    assert "tiny-captioner" in listed.stdout and "missing" in listed.stdout

    hub.cut[f"{REPO}/onnx/decoder_model_merged.onnx"] = (300_000, 1)  # one cut connection on the way
    done = run_main("models", "download", "tiny-captioner")
    assert done.returncode == 0, done.stderr
    assert "Installed tiny-captioner" in done.stdout
    # Not a terminal: one line when a file starts (or resumes) and one when it is verified; no \r redraws.
    assert "tiny-captioner/onnx/decoder_model_merged.onnx: downloading" in done.stderr
    assert "resuming at 0.3 MB" in done.stderr
    assert done.stderr.count(": verified") == 4 and "\r" not in done.stderr
    folder = spacevoice_home / "data" / "models" / "tiny-captioner"
    assert (folder / "manifest.json").is_file()

    state = json.loads(run_main("models", "list", "--json").stdout)
    row = next(m for m in state["models"] if m["name"] == "tiny-captioner")
    assert row["state"] == "installed" and row["variant"] == "fp32"
    verified = run_main("models", "verify")
    assert verified.returncode == 0 and "tiny-captioner: OK (4 files" in verified.stdout

    target = folder / "onnx" / "encoder_model.onnx"
    target.write_bytes(target.read_bytes()[:-1] + b"\x00")
    broken = run_main("models", "verify", "tiny-captioner")
    assert broken.returncode == 4
    assert "tiny-captioner: DAMAGED: onnx/encoder_model.onnx does not match its checksum" in broken.stdout
    assert "need repair" in one_plain_line(broken.stderr)
    repaired = run_main("models", "download", "tiny-captioner")
    assert repaired.returncode == 0 and "Installed tiny-captioner" in repaired.stdout
    assert repaired.stderr.count(": verified") == 1  # only the damaged file was fetched again
    unchanged = run_main("models", "download", "tiny-captioner")
    assert "tiny-captioner is already installed and verified (fp32)" in unchanged.stdout
    assert run_main("models", "verify", "tiny-captioner").returncode == 0

    assert run_main("models", "remove", "tiny-captioner").returncode == 0
    assert not folder.exists()
    again = run_main("models", "remove", "tiny-captioner")
    assert again.returncode == 4 and "is not installed" in one_plain_line(again.stderr)


def test_download_errors_are_one_plain_line(hub: ModelServer) -> None:
    unknown = run_main("models", "download", "no-such-model")
    assert unknown.returncode == 4
    assert "no model called 'no-such-model'" in one_plain_line(unknown.stderr)
    hub.corrupt.add(f"{REPO}/onnx/encoder_model.onnx")
    corrupted = run_main("models", "download", "tiny-captioner")
    assert corrupted.returncode == 4
    assert "encoder_model.onnx is corrupted" in corrupted.stderr.splitlines()[-1]
    assert "Traceback" not in corrupted.stderr
    assert "partial" in run_main("models", "list").stdout


def test_export_snac_needs_weights_said_plainly() -> None:
    result = run_main("models", "export", "snac")
    assert result.returncode == 4
    assert "--weights PATH, or --random-weights" in one_plain_line(result.stderr)


def test_export_registers_a_captioner_that_describe_then_uses(tiny_captioner_build: tuple[Path, Path],
                                                              spacevoice_home: Path) -> None:
    """The real chain: Optimum export of a transformers folder -> store -> `describe` loads it by name."""
    source = tiny_captioner_build[0]
    exported = run_main("models", "export", str(source), "--task", "image-to-text", "--name", "tiny-exported")
    assert exported.returncode == 0, exported.stderr
    assert "Installed tiny-exported" in exported.stdout
    listed = json.loads(run_main("models", "list", "--json").stdout)
    row = next(m for m in listed["models"] if m["name"] == "tiny-exported")
    assert row["task"] == "image-to-text" and row["source"] == str(source)
    assert run_main("models", "verify", "tiny-exported").returncode == 0

    assert run_main("settings", "set", "captioner", "tiny-exported").returncode == 0
    image = Path(__file__).resolve().parents[2] / "resources" / "samples" / "astronaut.png"
    described = run_main("describe", "--image", str(image), "--json", "--no-speech")
    assert described.returncode == 0, described.stderr
    result = json.loads(described.stdout)
    assert result["caption"] is not None  # a random tiny model says nonsense, but it ran from the store
    assert not any("scene" in w and "not installed" in w for w in result["warnings"])


def test_export_refuses_bad_sources_and_name_clashes_plainly(hub: ModelServer, tmp_path: Path) -> None:
    nowhere = run_main("models", "export", str(tmp_path / "nowhere"))
    assert nowhere.returncode == 4 and "neither a model folder nor a hub id" in one_plain_line(nowhere.stderr)
    assert run_main("models", "download", "tiny-captioner").returncode == 0
    clash = run_main("models", "export", str(tmp_path), "--name", "tiny-captioner")
    assert clash.returncode == 4
    assert "tiny-captioner is already installed (from tester/tiny-captioner)" in one_plain_line(clash.stderr)
    offline = run_main("models", "export", "someone/some-model", env={"HF_HUB_OFFLINE": "1"})
    assert offline.returncode == 4
    assert "Could not fetch someone/some-model from the model hub" in offline.stderr.splitlines()[-1]
    assert "Traceback" not in offline.stderr


@pytest.mark.slow
def test_export_snac_installs_a_decoder_the_voice_finds(spacevoice_home: Path) -> None:
    pytest.importorskip("snac", reason="the export extra is not installed")
    exported = run_main("models", "export", "snac", "--random-weights")
    assert exported.returncode == 0, exported.stderr
    assert "random weights" in exported.stderr  # never passed off as the real decoder
    from engine.errors import ModelError
    from engine.models.store import ModelStore
    from engine.speech.snac import find_decoder

    folder = ModelStore.from_settings(None).require("snac-24khz-random", task="audio-codec")
    decoder = find_decoder(folder)
    assert decoder.is_file() and (folder / (decoder.name + ".data")).is_file()  # the external weights shipped
    with pytest.raises(ModelError, match="voice decoder snac-24khz is not installed"):
        ModelStore.from_settings(None).require("snac-24khz")


def test_models_list_and_check_setup_agree_on_the_built_in_face_models(main_cli):
    listed = main_cli("models", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    states = {row["name"]: row["state"] for row in json.loads(listed.stdout)["models"]}
    assert states["yunet-2023mar"] == states["sface-2021dec"] == "built-in"
    assert "built-in" in main_cli("models", "list").stdout
    setup = main_cli("check-setup")
    assert "Recognising people: ready." in setup.stdout
