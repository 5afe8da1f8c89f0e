"""``main.py ask "QUESTION"``: ask the vision-language model about a picture; the answer is printed (and spoken)
as it is written.

The question is the single user turn, with the picture (no system prompt of ours). Without a picture option the
last picture is used only when the user turned ``vlm_remember_picture`` on (pictures are never kept by default).
``--json`` prints ``{"question", "answer", "model", "source", "timings_ms": {"capture", "vision", "first_token",
"total"}, "warnings"}``; ``answer`` is the decoded text as the model's processor decodes it (special tokens
skipped); ``first_token`` counts from the question (after the picture is encoded) to the first token.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from cli.describe_cmd import add_source_arguments, capture_from_args
from engine.errors import InputError, ModelError

MAX_QUESTION_CHARS = 2000
SOURCE_OPTIONS = ("screen", "monitor", "window", "webcam", "image")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``ask`` command."""
    parser = sub.add_parser("ask", help="ask a question about the screen, a window, the webcam or a picture")
    parser.add_argument("question", metavar="QUESTION", help="what you want to know, in quotes")
    add_source_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the whole result as one JSON object")
    parser.add_argument("--no-speech", action="store_true", help="only print, do not speak")
    parser.add_argument("--out", metavar="FILE.wav", type=Path, help="write the spoken answer to a WAV file instead")
    parser.add_argument("--greedy", action="store_true",
                        help="always take the most likely word (reproducible; for comparing with other programs)")
    parser.set_defaults(func=run)


def check_question(question: str) -> str:
    """The question stripped; a plain `InputError` when it is empty or too long."""
    question = question.strip()
    if not question:
        raise InputError("The question is empty.",
                         'Type what you want to know, for example: main.py ask "What does the error say?" --screen')
    if len(question) > MAX_QUESTION_CHARS:
        raise InputError(f"The question is {len(question):,} characters long; a question can have up to "
                         f"{MAX_QUESTION_CHARS:,}.", "Ask a shorter question.")
    return question


def _picture(args: argparse.Namespace, settings: Any) -> tuple[Any, str, float]:
    """The picture to ask about, its source and the capture time (ms)."""
    from engine.vlm.remembered import remember_picture, remembered_picture

    if any(getattr(args, option, None) not in (None, False) for option in SOURCE_OPTIONS):
        frame, capture_ms = capture_from_args(args, settings)
        remember_picture(frame.image, settings)  # type: ignore[attr-defined]
        return frame.image, str(frame.source), capture_ms  # type: ignore[attr-defined]
    started = time.perf_counter()
    picture = remembered_picture(settings)
    if picture is None:
        raise InputError("There is no picture to ask about: none was given, and SpaceVoice keeps no picture "
                         "unless you turn that on.", "Add --screen, --window, --webcam or --image PATH (or turn on "
                         "main.py settings set vlm_remember_picture true).")
    return picture, "remembered", (time.perf_counter() - started) * 1000


def run(args: argparse.Namespace) -> int:
    """Answer one question about one picture."""
    from engine.settings import Settings

    settings = Settings.load()
    question = check_question(args.question)
    if not settings.vlm:
        raise ModelError("No vision-language model is chosen to answer questions.",
                         "Export one with: main.py models export SOURCE --task vlm, then: "
                         "main.py settings set vlm NAME")
    picture, source, capture_ms = _picture(args, settings)
    live_speech = not args.no_speech and not args.out
    if live_speech:
        from engine.speech.player import output_device

        output_device()  # no sound device: say so before the model loads
    from engine.vlm import load_vlm, start_conversation

    model = load_vlm(settings.vlm, settings)
    conversation = start_conversation(model, picture)
    pieces = conversation.stream(question, greedy=args.greedy)
    if live_speech:
        _speak_live(pieces, settings, printing=not args.json)
    else:
        for piece in pieces:
            if not args.json:
                print(piece, end="", flush=True)
    turn = conversation.turns[-1]
    if not args.json:
        print()
    else:
        vision_ms = conversation.picture.vision_ms if conversation.picture else 0.0
        timings = {"capture": capture_ms, "vision": vision_ms, "first_token": turn.first_token_ms,
                   "total": capture_ms + vision_ms + turn.total_ms}
        print(json.dumps({"question": question, "answer": turn.answer, "model": model.name, "source": source,
                          "timings_ms": {k: (round(v, 1) if v is not None else None) for k, v in timings.items()},
                          "warnings": _warnings(turn, picture)}, ensure_ascii=False))
    if args.out and turn.answer.strip():
        from engine.speech.choice import say

        say(turn.answer, settings, out=args.out)
    return 0


def _speak_live(pieces: Any, settings: Any, *, printing: bool) -> None:
    """Speak each sentence as soon as it is written (and print the text as it comes when ``printing``)."""
    from engine.speech.choice import choose_speaker
    from engine.speech.narrator import Narrator
    from engine.vlm.spoken import speak_as_written

    speaker: Any = choose_speaker(settings, getattr(settings, "speech_engine", "auto"))
    narrator = Narrator(speaker, voice=getattr(settings, "voice", None), rate=getattr(settings, "rate", None))

    def shown(stream: Any) -> Any:
        for piece in stream:
            if printing:
                print(piece, end="", flush=True)
            yield piece

    try:
        speak_as_written(shown(pieces), narrator)
        narrator.wait_idle(timeout=3600)
    finally:
        narrator.close()
        sys.stdout.flush()


def _warnings(turn: Any, picture: Any) -> list[str]:
    from engine.frames import blank_reason

    found = []
    blank = blank_reason(picture)
    if blank:  # the model is still asked (the question may be about the blankness), but the user is told
        found.append(blank)
    if turn.finished_by == "limit":
        found.append(f"The answer was cut at the limit of {len(turn.ids)} tokens.")
    return found
