"""``main.py people ...`` (enrol, list, remove, rename people) and ``main.py find NAME`` (watch for one person).

Exit status of ``find``: 0 when the person was seen, 1 when they were not seen before the timeout or the end of
the video, 2 when the name is not enrolled, 3 when the camera is missing.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from engine.errors import InputError, SpaceVoiceError

DEFAULT_FIND_TIMEOUT = 120.0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``people`` and ``find`` commands."""
    parser = sub.add_parser("people", help="enrol the people SpaceVoice should recognise, list, rename, remove")
    actions = parser.add_subparsers(dest="people_action", metavar="ACTION")
    add = actions.add_parser("add", help="enrol a person from one or more photos")
    add.add_argument("name")
    add.add_argument("images", nargs="+", metavar="IMAGE")
    add.add_argument("--face", metavar="N|left|centre|right",
                     help="with several faces in a photo: the N-th from the left, or the one on that side")
    add.add_argument("--force", action="store_true",
                     help="add the face even when it does not look like the person's other pictures")
    actions.add_parser("list", help="who is enrolled")
    remove = actions.add_parser("remove", help="forget a person (their face data is erased)")
    remove.add_argument("name")
    rename = actions.add_parser("rename", help="change a person's name")
    rename.add_argument("old")
    rename.add_argument("new")
    enrol = actions.add_parser("enroll-webcam", help="enrol a person in front of the webcam, with spoken guidance")
    enrol.add_argument("name")
    enrol.add_argument("--device", help="camera number, video file or stream (default from settings)")
    enrol.add_argument("--settle-frames", type=int, default=30, help="frames to wait after each instruction")
    enrol.add_argument("--no-speech", action="store_true", help="only print the guidance, do not speak it")
    enrol.add_argument("--force", action="store_true",
                       help="add the faces even when they do not look like the person's other pictures")
    parser.set_defaults(func=run_people)

    find = sub.add_parser("find", help="watch the webcam until a person appears and say where they are")
    find.add_argument("name")
    find.add_argument("--webcam", nargs="?", const="", metavar="DEVICE",
                      help="camera number, video file or stream (default from settings)")
    find.add_argument("--timeout", type=float, default=DEFAULT_FIND_TIMEOUT, metavar="S",
                      help=f"stop after S seconds (default {DEFAULT_FIND_TIMEOUT:.0f}; 0: never)")
    find.add_argument("--no-speech", action="store_true", help="only print, do not speak")
    find.set_defaults(func=run_find)


def run_people(args: argparse.Namespace) -> int:
    """Carry out one ``people`` action."""
    from engine.faces.gallery import FaceGallery
    from engine.settings import Settings

    action = args.people_action or "list"
    settings = Settings.load()
    if action in ("add", "enroll-webcam"):
        return _add(args, settings) if action == "add" else _enrol_webcam(args, settings)
    gallery = FaceGallery.load()  # a damaged file is reported (a warning on stderr) and set aside there
    if action == "list":
        if not gallery.people:
            print("Nobody is enrolled yet. Add someone with: people add NAME PHOTO")
        for person in gallery.people:
            count = len(person.embeddings)
            print(f"{person.name}: {count} face picture{'s' if count != 1 else ''}")
        return 0
    if action == "remove":
        person = gallery.remove(args.name)
        gallery.save()
        print(f"Removed {person.name}; their face data is erased.")
        return 0
    found = gallery.find(args.old)
    old_name = found.name if found is not None else args.old
    person = gallery.rename(args.old, args.new)
    gallery.save()
    print(f"Renamed {old_name} to {person.name}.")
    return 0


def _add(args: argparse.Namespace, settings: Any) -> int:
    from engine.capture.image_file import open_picture_file
    from engine.faces import load_face_stage
    from engine.faces.enrolment import commit, prepare_from_photos
    from engine.faces.gallery import FaceGallery, check_name

    name = check_name(args.name)
    for path in args.images:  # an empty, missing or unusable path is refused before any model loads
        open_picture_file(path).close()
    # Loaded first: a file from a newer version stops here, in one line, before any model loads.
    identifier = load_face_stage(settings, gallery=FaceGallery.load())
    # Every photo is checked before anything is saved: one refused photo leaves the file as it was.
    pending = prepare_from_photos(identifier, name, args.images, wanted=args.face,
                                  choose=(lambda photo: _ask_which(photo, name)) if sys.stdin.isatty() else None)
    print(commit(identifier.gallery, pending, keep_thumbnails=bool(settings.keep_thumbnails), force=args.force))
    return 0


def _ask_which(photo: Any, name: str) -> int:
    """At a terminal: list the faces of a group photo left to right and read the number typed (0-based)."""
    print(f"{photo.label} shows {len(photo.faces)} faces, numbered from the left:")
    for choice in photo.choices():
        number, _, text = choice.partition(" ")
        print(f"  {number}: {text}")
    try:
        answer = input(f"Which face is {name}? Type its number: ").strip()
    except EOFError:
        answer = ""
    if not answer.isdigit() or not 1 <= int(answer) <= len(photo.faces):
        raise InputError("That is not one of the face numbers.", "Run the command again and type a number shown.")
    return int(answer) - 1


def _enrol_webcam(args: argparse.Namespace, settings: Any) -> int:
    from engine.capture.webcam import webcam_frames
    from engine.faces import load_face_stage
    from engine.faces.enrolment import commit, prepare_from_webcam
    from engine.faces.gallery import FaceGallery, check_name

    name = check_name(args.name)
    # Loaded first: a file from a newer version stops here, in one line, before any model loads.
    identifier = load_face_stage(settings, gallery=FaceGallery.load())
    announce = _announcer(settings, args.no_speech)
    device = args.device if args.device else settings.webcam_device
    frames = webcam_frames(device)
    try:
        pending = prepare_from_webcam(identifier, name, frames, announce, settle_frames=max(0, args.settle_frames))
    finally:
        frames.close()  # type: ignore[attr-defined]  # a generator: closing releases the camera
    announce(commit(identifier.gallery, pending, keep_thumbnails=bool(settings.keep_thumbnails), force=args.force))
    return 0


def run_find(args: argparse.Namespace) -> int:
    """Watch the camera for one person; say where they are when they appear and when they move."""
    from engine.capture.webcam import webcam_frames
    from engine.faces import load_face_stage
    from engine.faces.detector import CROWD_SIDES
    from engine.faces.finder import watch_for
    from engine.faces.gallery import FaceGallery
    from engine.settings import Settings

    settings = Settings.load()
    # Looking for someone in a crowd: a second, finer detection pass catches faces across the room.
    identifier = load_face_stage(settings, sides=CROWD_SIDES, gallery=FaceGallery.load())
    person = identifier.gallery.find(args.name)
    if person is None:
        raise InputError("Nobody by that name is enrolled.", "See who is enrolled with: people list")
    announce = _announcer(settings, args.no_speech)
    device = args.webcam if args.webcam else settings.webcam_device
    frames = webcam_frames(device)
    timeout = args.timeout if args.timeout and args.timeout > 0 else None
    announce(f"Looking for {person.name}.")
    started = time.monotonic()
    seen = False
    try:
        for sighting in watch_for(identifier, person.name, frames, timeout=timeout):
            seen = True
            announce(sighting.sentence)
    except KeyboardInterrupt:
        return 0 if seen else 130
    finally:
        frames.close()  # type: ignore[attr-defined]  # a generator: closing releases the camera
    if not seen:
        timed_out = timeout is not None and time.monotonic() - started >= timeout
        when = f"in {timeout:g} second{'s' if timeout != 1 else ''}" if timed_out else "before the camera stopped"
        announce(f"I did not see {person.name} {when}.")
        return 1
    return 0


def _announcer(settings: Any, quiet: bool) -> Callable[[str], None]:
    """Print each sentence at once and speak it, unless ``quiet``; a voice that fails is reported once."""
    say: Callable[..., None] | None = None
    if not quiet:
        try:
            from engine.speech.choice import say
        except ModuleNotFoundError:
            say = None
    state = {"voice": say}

    def announce(text: str) -> None:
        print(text, flush=True)
        speak = state["voice"]
        if speak is None:
            return
        try:
            speak(text, settings)
        except SpaceVoiceError as error:
            print(f"spacevoice: speech is off: {error}", file=sys.stderr)
            state["voice"] = None

    return announce
