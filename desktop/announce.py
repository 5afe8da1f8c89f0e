"""State changes told to the user's screen reader as accessibility announcements, and a name for Qt's unnamed
notification close button.

`QAccessibleAnnouncementEvent` (Qt 6.8+) reaches AT-SPI as ``object:announcement`` and UIA as a notification
event: a screen reader says the text without the focus moving. It is sent only while SpaceVoice's words do not
already go to the screen reader (``speak_through``), so nothing is said twice by it.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAccessible, QAccessibleAnnouncementEvent
from PySide6.QtWidgets import QAbstractButton, QApplication

CLOSE_NOTIFICATION = "Close notification"


def announce(source: QObject, text: str, *, assertive: bool = False) -> None:
    """Announce ``text`` on behalf of ``source`` (a widget of ours); assertive interrupts, polite waits."""
    event = QAccessibleAnnouncementEvent(source, text)
    event.setPoliteness(QAccessible.AnnouncementPoliteness.Assertive if assertive
                        else QAccessible.AnnouncementPoliteness.Polite)
    QAccessible.updateAccessibility(event)


def name_notification_buttons() -> None:
    """Give the close button of Qt's own notification balloon (used where no notification service runs) a name;
    Qt leaves it as an unnamed icon button. Runs after the balloon is created."""
    def name_them() -> None:
        for widget in QApplication.topLevelWidgets():
            if widget.metaObject().className() != "QBalloonTip":
                continue
            widget.setAccessibleName("SpaceVoice notification")
            for button in widget.findChildren(QAbstractButton):
                if not button.accessibleName() and not button.text():
                    button.setAccessibleName(CLOSE_NOTIFICATION)

    QTimer.singleShot(0, name_them)
