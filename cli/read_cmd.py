"""``main.py read``: read the text on the screen, in a window or in an image, in reading order, aloud."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cli.clipboard import add_copy_argument, copy_to_clipboard
from cli.describe_cmd import add_source_arguments, capture_from_args, speak_if_asked


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``read`` command."""
    parser = sub.add_parser("read", help="read the text on the screen, in the active window or in an image")
    add_source_arguments(parser, webcam=False)
    parser.add_argument("--json", action="store_true", help="print the lines with boxes and confidence as JSON")
    parser.add_argument("--no-speech", action="store_true", help="only print, do not speak")
    parser.add_argument("--out", metavar="FILE.wav", type=Path, help="write the speech to a WAV file instead")
    add_copy_argument(parser)
    moves = parser.add_mutually_exclusive_group()
    moves.add_argument("--continue", dest="more", action="store_true",
                       help="read on where the last description stopped ('... and N more lines')")
    moves.add_argument("--next-paragraph", dest="paragraph_step", action="store_const", const=1,
                       help="the next paragraph of the text the last description did not say")
    moves.add_argument("--previous-paragraph", dest="paragraph_step", action="store_const", const=-1,
                       help="the paragraph before the one last said")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read all the text of one frame; print it, then speak it sentence by sentence."""
    from engine.errors import InputError
    from engine.settings import Settings
    from engine.text import load_text_stage, read_text

    settings = Settings.load()
    if args.more or args.paragraph_step:
        from engine.text.continuation import move_paragraph, read_more

        said = move_paragraph(args.paragraph_step) if args.paragraph_step else read_more()
        print(said, flush=True)
        speak_if_asked(args, settings, said)
        return 0
    frame, _ = capture_from_args(args, settings)
    blank = frame.blank_reason()  # type: ignore[attr-defined]
    if blank is not None:
        raise InputError(blank, "There is no text to read.")
    result = read_text(frame, load_text_stage(settings))  # type: ignore[arg-type]
    if args.json:
        print(json.dumps({
            "source": frame.source,  # type: ignore[attr-defined]
            "lines": [{"text": line.text, "box": list(line.box), "confidence": line.confidence}
                      for line in result.lines],
            "notes": list(result.notes),
        }, ensure_ascii=False))
    else:
        print(result.spoken, flush=True)
    if args.copy:  # before speaking: the user can paste while it is said
        copy_to_clipboard(result.spoken)
    speak_if_asked(args, settings, result.spoken)
    return 0
