"""``main.py settings``: list, read and change settings from the same table the settings dialog uses."""

from __future__ import annotations

import argparse

from engine.errors import InputError

# Settings that send data off this computer: turned on only by a command that says so first.
CONFIRMED_ELSEWHERE = {
    "remote_enabled": "Run: main.py remote enable (or main.py remote disable)",
    "remote_allow_http": "Run: main.py remote enable --allow-http",
}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``settings`` command."""
    parser = sub.add_parser("settings", help="list or change settings")
    actions = parser.add_subparsers(dest="settings_action", metavar="ACTION")
    actions.add_parser("list", help="every setting, its value and what it does")
    get = actions.add_parser("get", help="print one setting")
    get.add_argument("name")
    put = actions.add_parser("set", help="change one setting")
    put.add_argument("name")
    put.add_argument("value")
    reset = actions.add_parser("reset", help="put one setting back to its default")
    reset.add_argument("name")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Carry out one settings action."""
    from engine.setting_choices import allowed_values, checked_value
    from engine.settings import BY_NAME, SETTINGS, Settings

    action = args.settings_action or "list"
    settings = Settings.load()
    if action == "list":
        for setting in SETTINGS:
            allowed = allowed_values(setting.name, settings)
            choices = f" ({' | '.join(allowed)})" if allowed else ""
            print(f"{setting.name} = {settings.get(setting.name)!r}{choices}\n    {setting.help}")
        return 0
    if args.name not in BY_NAME:
        raise InputError(f"There is no setting called {args.name}.", "Run: main.py settings list")
    if action == "get":
        print(settings.get(args.name))
        return 0
    if action == "set" and args.name in CONFIRMED_ELSEWHERE:
        raise InputError(f"{args.name} is changed with its own command, which says first what it means.",
                         CONFIRMED_ELSEWHERE[args.name])
    # A value the program could not use is refused here, with the values it can, rather than at the next describe.
    value = BY_NAME[args.name].default if action == "reset" else checked_value(args.name, args.value, settings)
    settings.set(args.name, value)
    settings.save()
    print(f"{args.name} = {settings.get(args.name)!r}")
    return 0
