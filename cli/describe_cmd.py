"""``main.py describe``: capture a frame, describe it, print (and speak) what SpaceVoice would say."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from cli.clipboard import add_copy_argument, copy_to_clipboard


def add_source_arguments(parser: argparse.ArgumentParser, *, webcam: bool = True) -> None:
    """The capture source options shared by ``describe`` and ``read``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--screen", action="store_true", help="the whole screen (the default)")
    group.add_argument("--monitor", metavar="N", help="one monitor, numbered from 1, or 'mouse'")
    group.add_argument("--window", action="store_true", help="the active window")
    if webcam:
        group.add_argument("--webcam", nargs="?", const="", metavar="DEVICE",
                           help="a webcam frame (device number, video file or stream; default from settings)")
    group.add_argument("--image", metavar="PATH", help="an image file")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``describe`` command."""
    parser = sub.add_parser("describe", help="describe the screen, a window, the webcam or an image")
    add_source_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the whole result as one JSON object")
    parser.add_argument("--no-speech", action="store_true", help="only print, do not speak")
    parser.add_argument("--out", metavar="FILE.wav", type=Path, help="write the speech to a WAV file instead")
    add_copy_argument(parser)
    parser.add_argument("--task", choices=("more-detailed", "detailed", "caption", "objects", "text"),
                        help="ask a Florence-2 scene model for one task only (default: detailed caption and objects)")
    parser.set_defaults(func=run)


def capture_from_args(args: argparse.Namespace, settings: object) -> tuple[object, float]:
    """Capture the frame the arguments ask for (`engine.capture.source`); return it and the capture time in ms."""
    from engine.capture.source import capture_source

    started = time.perf_counter()
    if getattr(args, "image", None) is not None:  # an empty path is refused there, not taken as "the screen"
        frame = capture_source("image", args.image)
    elif getattr(args, "window", False):
        frame = capture_source("window")
    elif getattr(args, "webcam", None) is not None:
        frame = capture_source("webcam", args.webcam, settings)
    elif getattr(args, "monitor", None):
        frame = capture_source("monitor", args.monitor)
    else:
        frame = capture_source("screen")
    return frame, (time.perf_counter() - started) * 1000


def run(args: argparse.Namespace) -> int:
    """Describe one frame."""
    from engine.capture.source import capture_notice
    from engine.describe import Stages, describe_frame
    from engine.pipeline import load_stages
    from engine.settings import Settings
    from engine.text.continuation import keep_unread, unread_after_summary

    settings = Settings.load()
    if getattr(args, "task", None):
        settings.set("scene_task", args.task)  # for this run only: never saved
    frame, capture_ms = capture_from_args(args, settings)
    from engine.vlm.remembered import remember_picture

    remember_picture(frame.image, settings)  # type: ignore[attr-defined]  # only when the user turned that on
    # A black or blank frame is said as such at once: no model needs loading for that.
    stages = Stages() if frame.blank_reason() else load_stages(settings)  # type: ignore[attr-defined]
    if getattr(args, "task", None) and stages.captioner is not None and not hasattr(stages.captioner, "set_task"):
        from engine.errors import InputError

        raise InputError(f"--task needs a Florence-2 scene model; the captioner setting is {settings.captioner}.",
                         "Run: main.py settings set captioner florence-2-base-ft")
    description = describe_frame(frame, stages, capture_ms=capture_ms)  # type: ignore[arg-type]
    notice = capture_notice(frame)  # type: ignore[arg-type]
    if notice is not None:  # the window asked for was not there: say what was described instead
        description = replace(description, spoken=f"{notice} {description.spoken}")
    # What the summary left unsaid, for "read more"; an earlier screen's text is never read on after this one.
    keep_unread(unread_after_summary(description.text, frame) if description.text else [])  # type: ignore[arg-type]
    if args.json:
        print(json.dumps(description.to_json(), ensure_ascii=False))
    else:
        print(description.spoken)
        # What is missing (a scene model not downloaded) is said once, on its own line, unless it was the answer.
        for warning in description.warnings:
            if warning not in description.spoken:
                print(f"spacevoice: {warning}", file=sys.stderr)
    if args.copy:  # before speaking: the user can paste while it is said
        copy_to_clipboard(description.spoken)
    speak_if_asked(args, settings, description.spoken)
    return 0


def speak_if_asked(args: argparse.Namespace, settings: object, text: str) -> None:
    """Speak ``text`` (or write it to ``--out``) unless ``--no-speech``.

    The voice speaks one sentence (or one line: lines end sentences) at a time, so Ctrl+C, or Stop in the tray
    app, ends a long reading within a sentence instead of after the whole screen.
    """
    if args.no_speech and not args.out:
        return
    from engine.speech.choice import say

    say(text, settings, out=args.out)
