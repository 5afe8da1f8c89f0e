"""An answer is spoken while it is still being written: the real loop (the tiny SmolVLM on onnxruntime), the real
narrator and the real system voice (espeak-ng), its audio written to a WAV file as it comes."""

from __future__ import annotations

import threading
import time
import wave
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.speech.narrator import Narrator
from engine.speech.pcm import WavWriter
from engine.speech.sentences import split_sentences
from engine.speech.system_voice import SystemVoice
from engine.vlm.conversation import start_conversation
from engine.vlm.model import VisionLanguageModel
from engine.vlm.spoken import SentenceFeed, speak_as_written
from tests.tiny_vlm import ANSWER, teaching_pictures, tiny_smolvlm

PICTURE, QUESTION = teaching_pictures()[0]


class WavOutput:
    """The narrator's output into a WAV file; notes when each utterance's first audio was written."""

    def __init__(self, path: Path) -> None:
        self.writer = WavWriter(path)
        self.first_audio: list[float] = []
        self._stopped = threading.Event()

    def play(self, chunks: Iterable[Any]) -> bool:
        self._stopped.clear()
        first = True
        for chunk in chunks:
            if self._stopped.is_set():
                return False
            if first:
                self.first_audio.append(time.perf_counter())
                first = False
            self.writer.write(chunk)
        return True

    def stop(self) -> None:
        self._stopped.set()


@pytest.fixture(scope="module")
def model() -> VisionLanguageModel:
    if SystemVoice().is_available() is not None:
        pytest.skip("no system voice (espeak-ng) on this machine")
    return VisionLanguageModel(tiny_smolvlm()[1], max_tiles=0)


def _timed(pieces: Iterable[str], ends: list[float]) -> Iterator[str]:
    yield from pieces
    ends.append(time.perf_counter())  # the model wrote its last token


def test_the_first_sentence_is_spoken_before_the_answer_is_finished(model, tmp_path: Path) -> None:
    output = WavOutput(tmp_path / "answer.wav")
    narrator = Narrator(SystemVoice(), output=output)  # type: ignore[arg-type]
    conversation = start_conversation(model, PICTURE)
    ends: list[float] = []
    try:
        text = speak_as_written(_timed(conversation.stream(QUESTION, greedy=True), ends), narrator)
        assert narrator.wait_idle(60)
    finally:
        narrator.close()
        output.writer.close()
    assert text.strip() == ANSWER
    assert len(output.first_audio) == len(split_sentences(ANSWER))  # one utterance per sentence, all spoken
    print(f"\nfirst audio {1000 * (output.first_audio[0] - (ends[0] - conversation.turns[-1].total_ms / 1000)):.0f} "
          f"ms after the question; answer written in {conversation.turns[-1].total_ms:.0f} ms")
    assert output.first_audio[0] < ends[0]  # heard (written) while the model was still writing
    with wave.open(str(tmp_path / "answer.wav")) as wav:
        assert wav.getnframes() / wav.getframerate() > 5.0


def test_stop_silences_the_voice_and_ends_the_generation(model, tmp_path: Path) -> None:
    output = WavOutput(tmp_path / "stopped.wav")
    cancel = threading.Event()
    narrator = Narrator(SystemVoice(), output=output)  # type: ignore[arg-type]

    def stop(_text: str, _at: float) -> None:  # Stop pressed as soon as the first words are heard
        cancel.set()
        narrator.stop()

    narrator.on_first_audio = stop
    conversation = start_conversation(model, PICTURE)
    try:
        speak_as_written(conversation.stream(QUESTION, greedy=True, cancel=cancel), narrator, cancel=cancel)
        narrator.wait_idle(10)
    finally:
        narrator.close()
        output.writer.close()
    turn = conversation.turns[-1]
    assert turn.finished_by == "cancelled"
    assert len(turn.answer) < len(ANSWER) / 2  # the model stopped writing, long before its answer's end
    assert len(output.first_audio) <= 1 and not narrator.is_speaking  # no later sentence was voiced


def test_sentences_go_out_as_soon_as_the_next_one_begins() -> None:
    spoken: list[str] = []
    feed = SentenceFeed(spoken.append)
    for piece in ["It costs 3", ".5 dollars", ". Dr", ". Smith is", " here."]:
        feed.push(piece)
    assert spoken == ["It costs 3.5 dollars."]  # "3." and "Dr." did not end a sentence; "here." may go on
    feed.push(" Next")
    assert spoken == ["It costs 3.5 dollars.", "Dr. Smith is here."]
    feed.push(" line\nAnd")
    assert spoken == ["It costs 3.5 dollars.", "Dr. Smith is here.", "Next line"]
    feed.finish()
    assert spoken[-1] == "And"
