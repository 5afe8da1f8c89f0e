"""``main.py tray`` (also ``main.py`` alone), ``main.py trigger ACTION`` and ``main.py check-setup``."""

from __future__ import annotations

import argparse

from desktop.actions import BY_ID, REMOTE_IDS


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``tray``, ``trigger`` and ``check-setup`` commands."""
    tray = sub.add_parser("tray", help="start the tray app (the default with no command)")
    tray.add_argument("--window", action="store_true", help="show a window instead of a tray icon")
    tray.set_defaults(func=run_tray)

    trigger = sub.add_parser(
        "trigger", help="ask the running tray app to do something (bind this to a desktop shortcut)",
        description="Actions: " + ", ".join(f"{a} ({BY_ID[a].help.rstrip('.').lower()})" for a in REMOTE_IDS),
    )
    trigger.add_argument("action", choices=REMOTE_IDS, metavar="ACTION", help=", ".join(REMOTE_IDS))
    trigger.set_defaults(func=run_trigger)

    check = sub.add_parser("check-setup", help="say what works on this computer and what is missing")
    check.set_defaults(func=run_check_setup)


def run_tray(args: argparse.Namespace) -> int:
    """Start the tray app and run it until Quit."""
    from desktop.launch import run_tray as run

    return run(force_window=bool(getattr(args, "window", False)))


def run_trigger(args: argparse.Namespace) -> int:
    """Send ``trigger ACTION`` to the running instance."""
    from desktop.instance import send_command
    from engine.errors import DeviceError

    answer = send_command(f"trigger {args.action}")
    if answer is None:
        raise DeviceError("SpaceVoice is not running.",
                          "Start it first (run main.py with no command, or turn on Start at login in Settings).")
    if answer != "ok":
        raise DeviceError(f"SpaceVoice did not accept the request: {answer.removeprefix('error: ')}.",
                          "Update the shortcut to one of: " + ", ".join(REMOTE_IDS) + ".")
    return 0


def run_check_setup(args: argparse.Namespace) -> int:
    """Print the setup report: recognisers, device, OCR, hotkey backends."""
    from desktop.hotkeys import backend_candidates, how_to_bind
    from desktop.setup_check import setup_report
    from engine.pipeline import load_stages
    from engine.settings import Settings

    settings = Settings.load()
    print(setup_report(settings, load_stages(settings)))
    usable = []
    for backend in backend_candidates():
        reason = backend.is_available()
        print(f"Hotkeys through {backend.name}: {'possible' if reason is None else reason}.")
        if reason is None:
            usable.append(backend.name)
    if not usable:
        print(how_to_bind())
    return 0
