"""SpaceVoice entry point.

With no sub-command it starts the tray app; sub-commands run the same engine headless:
``describe``, ``read``, ``say``, ``people``, ``find``, ``models``, ``trigger``, ``settings``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

# Each entry is a module in cli/ with ``register(subparsers)``; a command sets ``func`` on its parser.
COMMAND_MODULES = ("describe_cmd", "read_cmd", "speech_cmd", "people_cmd", "models_cmd", "settings_cmd", "tray_cmd",
                   "selftest_cmd", "ask_cmd", "remote_cmd")

log = logging.getLogger("spacevoice")


def build_parser() -> argparse.ArgumentParser:
    """The full command-line parser."""
    parser = argparse.ArgumentParser(
        prog="spacevoice",
        description="SpaceVoice: describes what is on your screen or in front of your webcam, offline.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log detail (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"cli.{name}").register(sub)
    return parser


def setup_logging(verbosity: int) -> None:
    """Log to stderr at WARNING (INFO with -v, DEBUG with -vv). Pictures and names only ever at DEBUG."""
    level = logging.WARNING - 10 * min(verbosity, 2)
    level = int(os.environ.get("SPACEVOICE_LOG_LEVEL", level))
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit status. User errors print one plain line, never a traceback."""
    from engine.errors import SpaceVoiceError
    from engine.privacy import disable_onnxruntime_telemetry

    disable_onnxruntime_telemetry()  # before any command can load onnxruntime (engine/privacy.py says why)
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--self-test":  # the frozen app's documented flag
        argv[0] = "self-test"
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    if args.command is None:
        args = parser.parse_args([*argv, "tray"])
    try:
        return int(args.func(args) or 0)
    except SpaceVoiceError as error:
        print(f"spacevoice: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as error:  # the last guard: one plain line, the detail in the log at debug level
        log.debug("unexpected error", exc_info=True)
        print(
            f"spacevoice: something went wrong that SpaceVoice did not expect ({type(error).__name__}: {error}). "
            "Run again with -vv for details.",
            file=sys.stderr,
        )
        return 70


if __name__ == "__main__":
    sys.exit(main())
