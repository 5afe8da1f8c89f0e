"""Against a real OpenAI-compatible server (llama-cpp-python's, on 127.0.0.1, see conftest): Orpheus' audio tokens
come from the server and equal our own onnxruntime loop's on the same weights; Stop closes the stream; a server
that breaks mid-stream, stalls or answers an error gives way to this computer's own voice or describer, said once;
and what crosses the socket is only the request the user opted into."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from engine.remote import RemoteError
from engine.remote.client import Limits, RemoteClient
from engine.remote.config import RemoteConfig
from engine.remote.describer import FallbackCaptioner, RemoteDescriber
from engine.remote.voice import RemoteOrpheusSpeaker
from engine.settings import Settings
from engine.speech.orpheus import build_prompt
from engine.speech.sampling import AUDIO_TOKEN_BASE, END_OF_SPEECH
from tests.conftest import run_main
from tests.engine.remote.conftest import MODEL_ALIAS, LlamaServer, Relay
from tests.tiny_orpheus import built_once

SENTENCE = "Hello there, how are you today?"
# Both sides see the same static restriction to Orpheus' audio ids (and end of speech): a random model left free
# would write text tokens, which are not speech.
AUDIO_IDS = [END_OF_SPEECH, *range(AUDIO_TOKEN_BASE, 156940)]
AUDIO_ONLY = {"logit_bias": {str(i): 100.0 for i in AUDIO_IDS}}


def config_for(url: str) -> RemoteConfig:
    return RemoteConfig(True, url, MODEL_ALIAS, MODEL_ALIAS, "")


def settings_for(url: str, **more: object) -> Settings:
    return Settings({"remote_enabled": True, "remote_url": url, "remote_voice_model": MODEL_ALIAS,
                     "remote_describer_model": MODEL_ALIAS, **more})


def test_greedy_audio_tokens_from_the_server_equal_our_onnxruntime_loop(llama_server: LlamaServer) -> None:
    from tokenizers import Tokenizer

    from engine.speech.orpheus_lm import OrpheusLM

    speaker = RemoteOrpheusSpeaker(config_for(llama_server.url), extra=AUDIO_ONLY)
    theirs = list(speaker.tokens(SENTENCE, "tara", max_tokens=35, greedy=True))

    folder = llama_server.orpheus_dir
    prompt = build_prompt(Tokenizer.from_file(str(folder / "tokenizer.json")), SENTENCE, "tara")
    allowed = np.full(156940, -np.inf, dtype=np.float32)
    allowed[AUDIO_IDS] = 100.0
    lm = OrpheusLM(folder)
    ours = [t for t in lm.generate(prompt, lambda logits, step: int(np.argmax(logits + allowed)),
                                    max_new_tokens=35, stop_ids=(END_OF_SPEECH,)) if t != END_OF_SPEECH]
    assert len(theirs) >= 7
    assert theirs == ours[: len(theirs)] and len(theirs) == len(ours)


def test_remote_test_lists_the_models_and_measures_the_voice(llama_server: LlamaServer) -> None:
    for name, value in (("remote_voice_model", MODEL_ALIAS), ("remote_describer_model", MODEL_ALIAS)):
        run_main("settings", "set", name, value)
    assert run_main("remote", "enable", "--url", llama_server.url, "--yes").returncode == 0
    result = run_main("remote", "test")
    assert result.returncode == 0, result.stderr
    assert f"its models: {MODEL_ALIAS}" in result.stdout
    assert "audio tokens a second" in result.stdout and "real time" in result.stdout


def _install_tiny_snac(base: Path, scratch: Path) -> None:
    """The tiny SNAC decoder as the user's installed ``snac-24khz`` (SPACEVOICE_HOME is the test's own)."""
    from engine import paths
    from engine.models.store import ModelStore

    copy = scratch / "snac-copy"
    shutil.copytree(built_once("snac", base), copy)
    ModelStore(paths.models_dir()).register("snac-24khz", copy, task="audio-codec", source="test")


def test_the_voice_speaks_from_the_server_and_stop_closes_the_stream(
        llama_server: LlamaServer, relay: Relay, tmp_path_factory: pytest.TempPathFactory,
        spacevoice_home: Path) -> None:
    _install_tiny_snac(tmp_path_factory.getbasetemp(), spacevoice_home)
    speaker = RemoteOrpheusSpeaker(config_for(relay.url), settings=Settings(), extra=AUDIO_ONLY)
    assert speaker.is_available() is None
    chunks = 0
    for chunk in speaker.synthesize("One two three four five six seven eight nine ten eleven twelve."):
        assert chunk.sample_rate == 24000 and np.isfinite(chunk.samples).all()
        chunks += 1
        if chunks == 2:
            speaker.stop()  # Stop while the server is still writing
    assert chunks == 2  # nothing more was played after Stop
    assert speaker.last_stats.tokens < 7 * 40  # far short of the sentence's budget: the stream was closed
    # The server is free at once for the next request (llama-cpp-python serves one at a time).
    after = RemoteOrpheusSpeaker(config_for(llama_server.url), extra=AUDIO_ONLY)
    assert len(list(after.tokens("Yes.", "tara", max_tokens=14))) > 0
    # Only the request went over the socket: a POST of the Orpheus prompt, nothing else.
    (request,) = [r for r in relay.sent if r]
    head, body = request.split(b"\r\n\r\n", 1)
    assert head.startswith(b"POST /v1/completions HTTP/1.1")
    payload = json.loads(body)
    assert set(payload) == {"model", "prompt", "max_tokens", "stop", "temperature", "top_p", "repeat_penalty",
                            "stream", "logit_bias"}
    assert "tara: One two three" in payload["prompt"] and payload["model"] == MODEL_ALIAS


@pytest.mark.parametrize(("mode", "after"), [("cut", 700), ("stall", 700), ("error", 0)])
def test_a_failing_server_gives_way_to_the_system_voice_said_once(
        llama_server: LlamaServer, relay: Relay, mode: str, after: int, tmp_path: Path,
        tmp_path_factory: pytest.TempPathFactory, spacevoice_home: Path) -> None:
    from engine.speech import choice

    _install_tiny_snac(tmp_path_factory.getbasetemp(), spacevoice_home)
    relay.mode, relay.after = mode, after
    notices: list[str] = []
    choice._announced.clear()
    chain = choice.choose_speaker(settings_for(relay.url), "remote", on_notice=notices.append)
    audio = list(chain.synthesize("First sentence here. Second sentence here."))
    assert audio and sum(len(c.samples) for c in audio) > 0
    # The next voice of the chain takes over: Piper (built in) where it can speak, else the system voice.
    assert chain.name in ("piper", "system")
    taken_over = "Piper" if chain.name == "piper" else "system"
    assert notices == [f"The Orpheus on the server voice stopped working; the {taken_over} voice takes over."]


def test_the_describer_sends_one_small_picture_and_streams_the_answer(
        llama_server: LlamaServer, relay: Relay, faces_dir: Path) -> None:
    from engine.capture import load_image

    frame = load_image(str(faces_dir / "multiface.jpg"))
    describer = RemoteDescriber(config_for(relay.url))
    pieces = list(describer.stream_answer(frame.image, "What is in the picture?",
                                          context="People recognised in the picture: Mia."))
    assert len(pieces) > 1  # streamed: several events, not one body
    (request,) = [r for r in relay.sent if r]
    head, body = request.split(b"\r\n\r\n", 1)
    assert head.startswith(b"POST /v1/chat/completions")
    payload = json.loads(body)
    (message,) = payload["messages"]
    image, text = message["content"]
    assert image["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert len(body) < 300_000 * 4 / 3 + 4096  # the picture fits the budget even as base64
    assert text["text"].startswith("What is in the picture?") and "Mia" in text["text"]
    assert describer.last_bytes_sent <= 300_000


def test_the_describer_falls_back_to_the_local_captioner_once(llama_server: LlamaServer, relay: Relay) -> None:
    relay.mode = "error"

    class Local:
        def caption(self, image: np.ndarray) -> object:
            from engine.describe import Caption

            return Caption("a local caption", 0.9)

    stage = FallbackCaptioner(RemoteDescriber(config_for(relay.url)), Local())
    picture = np.zeros((48, 64, 3), np.uint8)
    assert stage.caption(picture).text == "a local caption"
    assert stage.notice is not None and "HTTP 500" in stage.notice and "own scene model" in stage.notice
    stage.notice = None
    assert stage.caption(picture).text == "a local caption"
    assert stage.notice is None  # said once


def test_a_request_never_hangs_past_its_bound(relay: Relay) -> None:
    relay.mode, relay.after = "stall", 0  # the answer never starts
    client = RemoteClient(relay.url, limits=Limits(connect_timeout=1.0, stall_timeout=1.0, deadline=5.0))
    cancel = threading.Event()
    with pytest.raises(RemoteError, match="did not answer within 1 seconds"):
        list(client.stream("/v1/completions", {"model": MODEL_ALIAS, "prompt": "x", "max_tokens": 5},
                           cancel=cancel))
