"""``main.py say``: speak text with the chosen voice, or write the speech to a WAV file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``say`` command."""
    parser = sub.add_parser("say", help="speak some text (or write it to a WAV file)")
    parser.add_argument("text", metavar="TEXT", help="the words to speak; '-' reads them from standard input")
    parser.add_argument("--voice", help="an Orpheus voice (tara, leah, jess, leo, dan, mia, zac, zoe) "
                        "or a system voice name; default from settings")
    parser.add_argument("--engine", choices=("auto", "orpheus", "system"),
                        help="which voice speaks (default from settings: auto)")
    parser.add_argument("--out", metavar="FILE.wav", type=Path, help="write the speech to a WAV file instead")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Speak the text."""
    from engine.settings import Settings
    from engine.speech.choice import say

    text = sys.stdin.read() if args.text == "-" else args.text
    say(text, Settings.load(), out=args.out, engine=args.engine, voice=args.voice,
        on_notice=lambda message: print(f"spacevoice: {message}", file=sys.stderr))
    return 0
