"""``main.py say``: speak text with the chosen voice, or write the speech to a WAV file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``say`` command."""
    parser = sub.add_parser("say", help="speak some text (or write it to a WAV file)")
    parser.add_argument("text", metavar="TEXT", nargs="?",
                        help="the words to speak; '-' reads them from standard input")
    parser.add_argument("--voice", help="an Orpheus voice (tara, leah, jess, leo, dan, mia, zac, zoe), "
                        "a Piper voice (en_US-joe-medium) or a system voice name; default from settings")
    parser.add_argument("--engine", choices=("auto", "orpheus", "piper", "system", "remote"),
                        help="which voice speaks (default from settings: auto)")
    parser.add_argument("--out", metavar="FILE.wav", type=Path, help="write the speech to a WAV file instead")
    parser.add_argument("--voices", action="store_true", help="list the voices you can choose, and stop")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Speak the text (or list the voices)."""
    from engine.errors import InputError
    from engine.settings import Settings
    from engine.speech.choice import ORPHEUS_VOICES, say

    settings = Settings.load()
    if args.voices:
        from engine.speech.system_voice import SystemVoice

        print("Orpheus voices (--voice or the 'voice' setting): " + ", ".join(ORPHEUS_VOICES))
        from engine.speech.piper_voice import installed_voices

        print("Piper voices (--voice or the 'piper_voice' setting): " + ", ".join(installed_voices(settings)))
        print("System voices (--voice or the 'system_voice' setting):")
        for voice_id, description in SystemVoice(settings).voices():
            print(f"  {voice_id}\t{description}")
        return 0
    if args.text is None:
        raise InputError("There is nothing to say.", "Give the words to speak, or '-' to read them from a pipe.")
    text = sys.stdin.read() if args.text == "-" else args.text
    say(text, settings, out=args.out, engine=args.engine, voice=args.voice,
        on_notice=lambda message: print(f"spacevoice: {message}", file=sys.stderr))
    return 0
