"""The tray icon and its menu, built from the action table; one QAction per action, shared with the window."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from desktop.actions import ACTIONS, Action
from desktop.announce import name_notification_buttons
from engine import paths

# A separator goes after these actions, grouping "describe", "speech" and "app" entries.
SEPARATOR_AFTER = frozenset({"read-text", "stop", "copy-last", "check-setup"})


def app_icon(busy: bool = False) -> QIcon:
    """The SpaceVoice icon; the busy variant has a bright background so the change is visible."""
    name = "spacevoice-busy.png" if busy else "spacevoice.png"
    return QIcon(str(paths.resources_dir() / "icons" / name))


def build_actions(parent: QObject | None, run: Callable[[str], None],
                  shortcuts: dict[str, str] | None = None) -> dict[str, QAction]:
    """One QAction per entry of the action table, each calling ``run(action_id)`` when triggered."""
    actions: dict[str, QAction] = {}
    for entry in ACTIONS:
        action = QAction(entry.label, parent)
        action.setObjectName(entry.object_name)
        action.setToolTip(entry.help)
        action.setStatusTip(entry.help)
        action.setWhatsThis(entry.help)
        action.triggered.connect(_runner(run, entry))
        actions[entry.id] = action
    update_hotkey_hints(actions, shortcuts or {})
    return actions


def update_hotkey_hints(actions: dict[str, QAction], shortcuts: dict[str, str]) -> None:
    """Show each global hotkey beside its menu entry ("Describe screen\\tCtrl+Alt+Shift+D")."""
    for entry in ACTIONS:
        hint = shortcuts.get(entry.id)
        actions[entry.id].setText(f"{entry.label}\t{hint}" if hint else entry.label)


def _runner(run: Callable[[str], None], entry: Action) -> Callable[[], None]:
    return lambda: run(entry.id)


class Tray:
    """The system tray icon with the SpaceVoice menu. Left click opens the same menu."""

    def __init__(self, actions: dict[str, QAction]) -> None:
        self.menu = QMenu()
        self.menu.setObjectName("trayMenu")
        self.menu.setTitle("SpaceVoice")
        self.menu.setAccessibleName("SpaceVoice menu")
        for entry in ACTIONS:
            self.menu.addAction(actions[entry.id])
            if entry.id in SEPARATOR_AFTER:
                self.menu.addSeparator()
        self.icon = QSystemTrayIcon(app_icon())
        self.icon.setObjectName("trayIcon")
        self.icon.setContextMenu(self.menu)
        self.icon.setToolTip("SpaceVoice: starting")
        self.icon.activated.connect(self._on_activated)

    def show(self) -> None:
        """Put the icon in the tray."""
        self.icon.show()

    def hide(self) -> None:
        """Take the icon out of the tray."""
        self.icon.hide()

    def set_status(self, text: str, busy: bool = False) -> None:
        """Show the state in the tooltip and the icon."""
        self.icon.setToolTip(f"SpaceVoice: {text}")
        self.icon.setIcon(app_icon(busy))

    def notify(self, title: str, text: str, is_error: bool) -> None:
        """A balloon notification next to the icon."""
        kind = QSystemTrayIcon.MessageIcon.Warning if is_error else QSystemTrayIcon.MessageIcon.Information
        self.icon.showMessage(title, text, kind, 8000)
        name_notification_buttons()

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.menu.popup(self.icon.geometry().center())
