"""The Piper voice on our own onnxruntime code: phoneme and audio parity with piper-tts (GPL-3.0, a test-only
reference), real speech a recogniser understands, rate, the voice choice, `say --engine piper`, Stop, and more
voices through the model store."""

from __future__ import annotations

import ast
import json
import shutil
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engine.errors import ModelError
from engine.settings import Settings
from engine.speech import choice
from engine.speech.choice import choose_speaker
from engine.speech.espeak_phonemes import EspeakPhonemizer, clause_terminator
from engine.speech.piper_voice import BUILT_IN_VOICE, PiperSpeaker, find_voice, length_scale_for, normalized
from tests.conftest import ROOT, run_main
from tests.engine.speech.audio_sink import paced_sink, run_python

CORPUS = ROOT / "tests" / "engine" / "speech" / "data" / "piper_corpus.txt"
WITHOUT_PIPER = Settings({"piper_voice": "en_US-nobody-medium"})


def corpus() -> list[str]:
    """The parity corpus: one sentence (or a few) per line."""
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


@pytest.fixture(autouse=True)
def fresh_announcements() -> Iterator[None]:
    choice._announced.clear()
    yield
    choice._announced.clear()


@pytest.fixture(scope="module")
def speaker() -> PiperSpeaker:
    """The built-in voice, loaded once, deterministic (noise scales 0)."""
    voice = PiperSpeaker(noise=False)
    voice.load()
    return voice


@pytest.fixture(scope="module")
def reference():
    """piper-tts's own voice object on the same files, and its bundled espeak-ng build (library, data)."""
    piper = pytest.importorskip("piper", reason="piper-tts (dev extra) is the reference")
    from piper.phonemize_espeak import ESPEAK_DATA_DIR

    files = find_voice(BUILT_IN_VOICE)
    voice = piper.PiperVoice.load(files.model, files.config)
    return voice, Path(piper.__file__).parent / "espeakbridge.so", ESPEAK_DATA_DIR


def reference_ids(voice, text: str) -> list[list[int]]:
    return [voice.phonemes_to_ids(sentence) for sentence in voice.phonemize(text) if sentence]


def test_the_corpus_is_varied_enough() -> None:
    texts = corpus()
    assert len(texts) >= 200
    joined = "\n".join(texts)
    for needed in ("$", "%", '"', "“", "'", "Dr.", "e.g.", "3.5", "1,234", ";", ":", "?!", "…", "(", " – "):
        assert needed in joined, needed


def test_phoneme_ids_equal_piper_tts_on_the_corpus(speaker: PiperSpeaker, reference) -> None:
    # Our clause loop (espeak_TextToPhonemes, terminators recovered from the text: what Debian 12's 1.51 forces)
    # run on piper-tts's own espeak-ng build, so the only difference left is our code.
    voice, library, data = reference
    ours = EspeakPhonemizer(library, data)
    model = speaker.load()
    mismatches = []
    for text in corpus():
        expected = reference_ids(voice, text)
        recovered = [model.ids_of(s) for s in ours.phonemize(text, "en-us", recover=True)]
        reported = [model.ids_of(s) for s in ours.phonemize(text, "en-us", recover=False)]
        if recovered != expected or reported != expected:
            mismatches.append(text)
    assert mismatches == []


def test_system_espeak_reads_the_same_clauses_as_piper_tts(speaker: PiperSpeaker, reference) -> None:
    voice, _library, _data = reference
    system = speaker.load().phonemizer
    if not system.has_terminator_call:
        print("\nsystem libespeak-ng has no espeak_TextToPhonemesWithTerminator: terminators are recovered")
    marks = set(".,?!:;")
    words_differ = 0
    for text in corpus():
        expected = [p for p in voice.phonemize(text) if p]
        ours = system.phonemize(text)
        # Sentences and their punctuation are ours to get right; a word's pronunciation is the espeak-ng version's.
        assert [[c for c in s if c in marks] for s in ours] == [[c for c in s if c in marks] for s in expected], text
        words_differ += ours != expected
    print(f"\n{words_differ} of {len(corpus())} texts pronounce a word differently (system espeak-ng vs piper-tts's)")


@pytest.mark.parametrize(("consumed", "expected"), [
    ("Hello, ", (",", False)), ("world! ", ("!", True)), ('He said "stop." ', (".", True)),
    ("what?! ", ("?", True)), ("Wait… ", ("", False)), ("Well... ", ("", False)), ("No way", ("", True)),
    ("paused – ", (";", False)), ("(very big). ", (".", True)),
])
def test_clause_terminators_are_recovered_from_the_text(consumed: str, expected: tuple[str, bool]) -> None:
    assert clause_terminator(consumed) == expected


def test_audio_equals_piper_tts_for_the_same_ids_and_scales(speaker: PiperSpeaker, reference) -> None:
    from piper import SynthesisConfig

    voice, _library, _data = reference
    model = speaker.load()
    texts = [*[t for t in corpus() if len(t) > 40][:3], "Hi!"]
    for length_scale in (1.0, 0.6):
        config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, length_scale=length_scale)
        for text in texts:
            for ids, chunk in zip(model.phoneme_ids(text), voice.synthesize(text, syn_config=config), strict=True):
                raw = model.audio(ids, length_scale=length_scale, noise_scale=0.0, noise_w=0.0)
                assert np.array_equal(raw, voice.phoneme_ids_to_audio(ids, config))
                assert np.array_equal(normalized(raw), chunk.audio_float_array)


def test_streamed_vocoder_pieces_equal_the_whole_graph(speaker: PiperSpeaker) -> None:
    from engine.speech.piper_stream import FIRST_FRAMES

    model = speaker.load()
    [ids] = model.phoneme_ids(next(t for t in corpus() if t.startswith("This is a long sentence")))
    whole = model.audio(ids, noise_scale=0.0, noise_w=0.0)
    pieces = list(model.stream(ids, noise_scale=0.0, noise_w=0.0))
    assert len(pieces) >= 3 and len(pieces[0]) == FIRST_FRAMES * model.hop  # the first sound is a short piece
    streamed = np.concatenate(pieces)
    assert streamed.shape == whole.shape and np.abs(streamed - whole).max() < 1e-4


@pytest.fixture(scope="module")
def recogniser():
    pocketsphinx = pytest.importorskip("pocketsphinx")
    return pocketsphinx.Decoder(samprate=16000)


def heard(recogniser, audio: np.ndarray, rate: int) -> list[str]:
    count = round(len(audio) * 16000 / rate)
    audio16 = np.fft.irfft(np.fft.rfft(audio)[: count // 2 + 1], count) * (count / len(audio))
    audio16 = audio16 / max(1e-6, float(np.abs(audio16).max())) * 0.5
    recogniser.start_utt()
    recogniser.process_raw((audio16 * 32767).astype("<i2").tobytes(), full_utt=True)
    recogniser.end_utt()
    return recogniser.hyp().hypstr.split() if recogniser.hyp() else []


def spoken(speaker: PiperSpeaker, text: str, rate: int | None = None) -> np.ndarray:
    chunks = list(speaker.synthesize(text, rate=rate))
    assert {c.sample_rate for c in chunks} == {22050}
    return np.concatenate([c.samples for c in chunks])


SENTENCES = ("The weather today is sunny and warm.", "One two three four five six seven.")


def test_piper_speaks_words_a_recogniser_understands(speaker: PiperSpeaker, recogniser) -> None:
    results = {text: heard(recogniser, spoken(speaker, text), 22050) for text in SENTENCES}
    print("\nrecognised:", results)
    for text, got in results.items():
        wanted = text.lower().rstrip(".").split()
        assert sum(w in got for w in wanted) >= 0.6 * len(wanted), (text, got)
    _first, second = SENTENCES
    assert sum(w in results[second] for w in ("weather", "sunny", "warm")) == 0  # the check can fail


def test_rate_follows_the_setting_through_length_scale_and_beyond(speaker: PiperSpeaker, recogniser) -> None:
    text = "Reading speed is a matter of taste, so the rate is a setting."
    seconds = {rate: len(spoken(speaker, text, rate)) / 22050 for rate in (90, 180, 360, 800)}
    print("\nPiper seconds by rate:", seconds)
    for rate in (90, 360, 800):  # within 12% of the duration the rate asks for
        assert seconds[rate] == pytest.approx(seconds[180] * 180 / rate, rel=0.12), rate
    assert length_scale_for(240) == (0.6666666666666666, 1.0) and length_scale_for(800)[1] > 2.0
    # Faster speech is still speech: at 1.5 times the pace the recogniser (weak on fast speech) hears words.
    got = heard(recogniser, spoken(speaker, SENTENCES[0], 270), 22050)
    assert sum(w in got for w in ("weather", "today", "sunny", "warm")) >= 2, got


def test_auto_picks_piper_when_orpheus_is_not_installed() -> None:
    notices: list[str] = []
    chain = choose_speaker(Settings(), "auto", on_notice=notices.append)
    assert chain.current.name == "piper" and [v.name for v in chain.voices] == ["piper", "system"]
    assert {c.sample_rate for c in chain.synthesize("Hello.")} == {22050}
    assert notices == []  # Orpheus not installed: nothing the user chose was lost


def test_a_slow_orpheus_falls_back_to_piper_said_once() -> None:
    from tests.engine.speech.test_choice import StandInOrpheus

    notices: list[str] = []
    slow = StandInOrpheus(0.2)
    chain = choose_speaker(Settings(), "auto", orpheus=slow, on_notice=notices.append)
    assert chain.current.name == "piper"
    list(chain.synthesize("Hello."))
    list(chain.synthesize("Hello again."))
    assert len(notices) == 1 and notices[0].endswith("too slow to speak smoothly; using the Piper voice.")


def test_without_piper_auto_uses_the_system_voice_and_piper_by_name_is_a_plain_error() -> None:
    assert choose_speaker(WITHOUT_PIPER, "auto").current.name == "system"
    with pytest.raises(ModelError, match="The Piper voice cannot speak: The Piper voice en_US-nobody-medium is not"):
        choose_speaker(WITHOUT_PIPER, "piper")
    assert choose_speaker(Settings(), "system").voices[0].name == "system"


def test_a_damaged_piper_voice_hands_over_to_the_system_voice_said_once(tmp_path: Path) -> None:
    from engine.speech.piper_voice import VoiceFiles

    files = find_voice(BUILT_IN_VOICE)
    damaged = VoiceFiles(tmp_path / "en_US-joe-medium.onnx", tmp_path / "en_US-joe-medium.onnx.json")
    damaged.model.write_bytes(b"not a model")  # installed, then damaged on disk
    shutil.copy(files.config, damaged.config)
    voice = PiperSpeaker(files=damaged)
    assert voice.is_available() is None  # the cheap check cannot know
    notices: list[str] = []
    chain = choose_speaker(Settings(), "piper", piper=voice, on_notice=notices.append)
    chunks = list(chain.synthesize("Hello there. Bye now."))
    assert notices == ["The Piper voice stopped working; the system voice takes over."]
    assert chain.current.name == "system" and sum(c.seconds for c in chunks) > 1.0
    list(chain.synthesize("Nothing more to announce."))
    assert len(notices) == 1


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as source:
        data = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2").astype(np.float32) / 32768
        return data, source.getframerate()


def test_say_engine_piper_writes_piper_speech_and_imports_no_piper_tts(tmp_path: Path, recogniser) -> None:
    out = tmp_path / "piper.wav"
    code = f"""
import json, sys
import main
status = main.main(["say", {SENTENCES[0]!r}, "--engine", "piper", "--out", {str(out)!r}])
heavy = sorted(n for n in ("piper", "torch", "transformers", "PySide6") if n in sys.modules)
print(json.dumps({{"status": status, "heavy": heavy}}))
"""
    assert run_python(code, {}) == {"status": 0, "heavy": []}
    audio, rate = read_wav(out)
    assert rate == 22050 and 1.0 < len(audio) / rate < 5.0
    got = heard(recogniser, audio, rate)
    assert sum(w in got for w in ("weather", "today", "sunny", "warm")) >= 3, got
    bad = run_main("settings", "set", "piper_voice", "en_US-nobody-medium", timeout=60)
    assert bad.returncode == 0
    refused = run_main("say", "Hi.", "--engine", "piper", "--out", str(tmp_path / "no.wav"), timeout=120)
    assert refused.returncode == 4 and refused.stderr.count("\n") == 1, refused.stderr
    assert "models download en_US-nobody-medium" in refused.stderr and not (tmp_path / "no.wav").exists()


def test_say_lists_piper_voices_and_speaks_a_named_one() -> None:
    listing = run_main("say", "--voices", timeout=120)
    assert listing.returncode == 0
    assert "Piper voices (--voice or the 'piper_voice' setting): en_US-joe-medium" in listing.stdout
    from engine.speech.choice import _voice_option

    assert _voice_option("en_US-joe-medium", Settings(), "auto")[2] == "piper"
    assert _voice_option("en-us+f2", Settings(), "auto")[2] == "system"  # a system voice named on purpose speaks
    assert _voice_option("en-us+f2", Settings(), "piper")[2] == "piper"  # unless an engine was named too
    settings = Settings()
    assert _voice_option("leah", settings, "auto") == ("leah", settings, "auto")


def test_runtime_source_never_imports_piper_tts() -> None:
    offenders = []
    for folder in ("engine", "cli", "desktop"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
                offenders += [str(path) for name in names if name.split(".")[0] == "piper"]
    assert offenders == []


STOP_SCRIPT = """
import json, time
from engine.settings import Settings
from engine.speech.choice import choose_speaker
from engine.speech.narrator import AudioOut, Narrator
output = AudioOut()
chain = choose_speaker(Settings(), "piper")
chain.current.load()  # as the tray's engine worker does before the first words
first = []
narrator = Narrator(chain, output=output, on_first_audio=lambda text, at: first.append(at))
narrator.speak({text!r})
deadline = time.perf_counter() + 60
while not first and time.perf_counter() < deadline:
    time.sleep(0.01)
time.sleep(1.5)
note = {{"speaking": narrator.is_speaking, "stop_at": time.perf_counter(), "first": first}}
narrator.stop()
note["idle"] = narrator.wait_idle(5)
note["stop_latency"] = output.player.last_stop_latency_s
print(json.dumps(note))
"""


def test_narrator_stops_piper_within_50_ms(tmp_path: Path) -> None:
    text = "This long description keeps going so that there is time to stop it. " * 5
    env, listener = paced_sink(tmp_path)
    try:
        note = run_python(STOP_SCRIPT.format(text=text), env, timeout=180)
    finally:
        listener.release()
    assert note["speaking"] and note["idle"] and note["first"]
    assert listener.audible and listener.audible[0] < note["stop_at"]  # Piper was heard before the stop
    after = listener.audible[-1] - note["stop_at"]
    print(f"\nPiper stop: abort {note['stop_latency'] * 1000:.1f} ms after stop(); last audible block "
          f"{after * 1000:.1f} ms after stop() (the test sink adds ~43 ms of pipe)")
    assert note["stop_latency"] < 0.05
    assert after < 0.05 + 0.06  # the sink's own pipe and 10 ms blocks on top of the 50 ms


def test_another_piper_voice_downloads_verified_and_speaks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.models.download import download_model
    from engine.models.store import ModelStore
    from tests.engine.test_models_download import ModelServer

    files = find_voice(BUILT_IN_VOICE)
    name = "en_US-copy-medium"  # the built-in voice under another name: a second catalogued voice
    payloads = {f"{name}.onnx": files.model.read_bytes(), f"{name}.onnx.json": files.config.read_bytes()}
    server = ModelServer()
    try:
        for path, data in payloads.items():
            server.add(path, data, repo="test/piper-voices")
        import hashlib

        catalogue = {"models": [{
            "name": name, "task": "tts-voice", "repo": "test/piper-voices", "revision": "main",
            "url": server.url + "/{repo}/resolve/{revision}/{path}", "licence": "CC0-1.0", "description": "x",
            "files": [{"path": p, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
                      for p, d in payloads.items()],
        }]}
        (tmp_path / "catalogue.json").write_text(json.dumps(catalogue))
        monkeypatch.setenv("SPACEVOICE_CATALOGUE", str(tmp_path / "catalogue.json"))
        monkeypatch.setenv("SPACEVOICE_MODELS", str(tmp_path / "store"))
        store = ModelStore.from_settings(None)
        download_model(store, name)
    finally:
        server.close()
    assert store.verify(name).ok
    voice = PiperSpeaker(Settings({"piper_voice": name}), noise=False)
    assert voice.is_available() is None and voice.load().session is not None
    assert len(spoken(voice, "Hello there.")) > 22050 * 0.5
    from engine.speech.piper_voice import installed_voices

    assert installed_voices() == [BUILT_IN_VOICE, name]
    shutil.rmtree(tmp_path / "store")
    assert "not installed" in (PiperSpeaker(Settings({"piper_voice": name})).is_available() or "")
