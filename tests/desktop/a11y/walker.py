"""An AT-SPI client (run with the system Python, which has pyatspi): what a screen reader sees of SpaceVoice.

``walker.py tree APP``: every accessible object of application APP as JSON lines (window, role, name,
description, states, child index path). ``walker.py listen SECONDS``: announcements and focus changes as JSON lines
while they happen, until SECONDS passed (prints ``listening`` once registered).
"""

from __future__ import annotations

import json
import sys

import pyatspi
from gi.repository import GLib


def _node(accessible, window: str, path: list[int]) -> dict:
    states = accessible.getState()
    return {"window": window, "role": accessible.getRoleName(), "name": accessible.name or "",
            "description": accessible.description or "", "path": path,
            "states": sorted(pyatspi.stateToString(s) for s in states.getStates())}


def tree(app_name: str) -> None:
    desktop = pyatspi.Registry.getDesktop(0)
    for app in desktop:
        if app is None or app.name != app_name:
            continue
        for index, top in enumerate(app):
            if top is None:
                continue
            stack = [(top, [index])]
            while stack:
                accessible, path = stack.pop()
                print(json.dumps(_node(accessible, top.name or top.getRoleName(), path)), flush=True)
                if len(path) > 40:
                    continue
                children = [(accessible.getChildAtIndex(i), [*path, i]) for i in range(accessible.childCount)]
                stack.extend(reversed([(child, p) for child, p in children if child is not None]))


def listen(seconds: float) -> None:
    def on_event(event) -> None:
        source = event.source
        try:
            role, name = source.getRoleName(), source.name
        except Exception:
            role, name = "", ""
        if event.type.startswith("object:state-changed:focused") and not event.detail1:
            return
        print(json.dumps({"type": str(event.type), "role": role, "name": name,
                          "text": str(event.any_data) if event.type == "object:announcement" else ""}), flush=True)

    pyatspi.Registry.registerEventListener(on_event, "object:announcement", "object:state-changed:focused")
    GLib.timeout_add(int(seconds * 1000), pyatspi.Registry.stop)
    GLib.timeout_add(300, lambda: print("listening", flush=True) and False)
    pyatspi.Registry.start()


if __name__ == "__main__":
    if sys.argv[1] == "tree":
        tree(sys.argv[2])
    else:
        listen(float(sys.argv[2]))
