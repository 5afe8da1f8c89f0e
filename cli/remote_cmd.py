"""``main.py remote``: turn the remote engine on (after saying what will be sent) or off, keep its key, test it."""

from __future__ import annotations

import argparse
import getpass
import sys
import time

from engine.errors import InputError
from engine.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``remote`` command."""
    parser = sub.add_parser("remote", help="use a server on your network for describing and speaking")
    actions = parser.add_subparsers(dest="remote_action", metavar="ACTION")
    enable = actions.add_parser("enable", help="turn the remote engine on (says first what will be sent)")
    enable.add_argument("--url", help="the server's address (else the remote_url setting)")
    enable.add_argument("--yes", action="store_true", help="confirm without asking (for scripts)")
    enable.add_argument("--allow-http", action="store_true",
                        help="allow plain http:// to an address outside your local network")
    actions.add_parser("disable", help="turn it off: nothing is sent any more")
    key = actions.add_parser("key", help="keep the server's API key in the system keyring (read from stdin)")
    key.add_argument("--delete", action="store_true", help="forget the key")
    actions.add_parser("test", help="check the server, list its models and say what works")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Carry out one remote action."""
    settings = Settings.load()
    action = args.remote_action or "test"
    if action == "enable":
        return _enable(args, settings)
    if action == "disable":
        settings.set("remote_enabled", False)
        settings.save()
        print("The remote engine is off: nothing is sent to a server.")
        return 0
    if action == "key":
        return _key(args)
    return _test(settings)


def _enable(args: argparse.Namespace, settings: Settings) -> int:
    from engine.remote.config import PRIVACY_NOTICE, check_address

    url = (args.url or settings.remote_url or "").strip()
    if not url:
        raise InputError("No server address is set.", "Give it: main.py remote enable --url http://HOST:PORT")
    confirmed = url.rstrip("/").removesuffix("/v1") if args.allow_http else settings.remote_allow_http
    base = check_address(url, confirmed=confirmed)
    print(PRIVACY_NOTICE.format(url=base))
    if not args.yes:
        if not sys.stdin.isatty():
            raise InputError("SpaceVoice needs your confirmation to send anything to a server.",
                             "Run it in a terminal, or add --yes to confirm.")
        if input("Turn the remote engine on? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing changed: the remote engine stays off.")
            return 0
    settings.set("remote_url", base)
    settings.set("remote_allow_http", confirmed if args.allow_http else settings.remote_allow_http)
    settings.set("remote_enabled", True)
    settings.save()
    print(f"The remote engine is on for {base}. Choose what uses it: main.py settings set captioner remote, "
          "main.py settings set speech_engine remote.")
    return 0


def _key(args: argparse.Namespace) -> int:
    from engine.remote.keys import delete_key, store_key

    if args.delete:
        delete_key()
        print("The server's key is forgotten.")
        return 0
    key = getpass.getpass("API key: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    if not key:
        raise InputError("No key was given.", "Type or pipe the key: echo KEY | main.py remote key")
    where = store_key(key)
    print("The key is kept in the system keyring." if where == "keyring"
          else f"No system keyring is available; the key is kept in {where}, readable only by you.")
    return 0


def _test(settings: Settings) -> int:
    from engine.remote import RemoteError
    from engine.remote.client import Limits, RemoteClient
    from engine.remote.config import RemoteConfig
    from engine.remote.keys import load_key

    config = RemoteConfig.from_settings(settings)
    problem = config.usable()
    if problem:
        raise RemoteError(problem)
    client = RemoteClient(config.base, load_key(), Limits(connect_timeout=5, stall_timeout=10, deadline=60))
    started = time.perf_counter()
    listing = client.get_json("/v1/models")
    models = [str(m.get("id")) for m in (listing.get("data") or []) if isinstance(m, dict)]
    print(f"{config.base} answers ({(time.perf_counter() - started) * 1000:.0f} ms); its models: "
          f"{', '.join(models) or 'none listed'}.")
    for job, name in (("describing", config.describer_model), ("the voice", config.voice_model)):
        if not name:
            print(f"For {job}: no model is set.")
        elif models and name not in models:
            print(f"For {job}: {name} is not one of the server's models.")
        else:
            print(f"For {job}: {name}.")
    if config.voice_model and (not models or config.voice_model in models):
        print(_voice_speed(config))
    return 0


def _voice_speed(config: object) -> str:
    """Time a short Orpheus request: does the server keep up with real time?"""
    from engine.remote import RemoteError
    from engine.remote.keys import load_key
    from engine.remote.voice import RemoteOrpheusSpeaker
    from engine.speech.orpheus import REALTIME_TOKENS_PER_SECOND

    speaker = RemoteOrpheusSpeaker(config, load_key())  # type: ignore[arg-type]
    started = time.perf_counter()
    try:
        count = sum(1 for _ in speaker.tokens("Testing the voice.", "tara", max_tokens=7 * 24))
    except RemoteError as error:
        return f"The voice model did not work: {error}"
    rate = count / max(time.perf_counter() - started, 1e-6)
    verdict = "keeps up with real time" if rate >= REALTIME_TOKENS_PER_SECOND else "is slower than real time"
    needed = REALTIME_TOKENS_PER_SECOND
    return f"The voice model writes {rate:.0f} audio tokens a second; it {verdict} (needs {needed:.0f})."
