"""The one table of user actions: the tray menu, the no-tray window, hotkeys and ``main.py trigger`` all read it.

No Qt here, so ``main.py trigger`` can validate an action name without starting Qt.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    """One thing a person can ask SpaceVoice to do.

    Attributes:
        id: the name used by ``main.py trigger ID`` and in logs.
        label: the menu text; ``&`` marks the keyboard accelerator (each letter used once in the menu).
        object_name: the Qt ``objectName`` tests and assistive tools find the action by.
        hotkey_setting: the setting holding its global hotkey, if it has one.
        handler: the name of the `desktop.app.SpaceVoiceApp` method that performs it.
        help: what it does, in a sentence a screen reader announces as the description.
        remote: whether ``main.py trigger`` may ask for it.
    """

    id: str
    label: str
    object_name: str
    hotkey_setting: str | None
    handler: str
    help: str
    remote: bool = True

    @property
    def plain_label(self) -> str:
        """The label without accelerator marks or a trailing ellipsis: what is announced."""
        return self.label.replace("&", "").rstrip(".")


ACTIONS: tuple[Action, ...] = (
    Action("describe-screen", "Describe &screen", "actionDescribeScreen", "hotkey_describe_screen",
           "describe_screen", "Describe everything on the screen."),
    Action("describe-window", "Describe &window", "actionDescribeWindow", "hotkey_describe_window",
           "describe_window", "Describe the active window."),
    Action("describe-webcam", "Describe web&cam", "actionDescribeWebcam", "hotkey_describe_webcam",
           "describe_webcam", "Describe what the webcam sees."),
    Action("read-text", "Read &text", "actionReadText", "hotkey_read_text", "read_text",
           "Read the text on the screen aloud."),
    Action("repeat", "&Repeat last", "actionRepeat", "hotkey_repeat", "repeat_last",
           "Say the last description again."),
    Action("read-more", "Read &more", "actionReadMore", "hotkey_read_more", "read_more",
           "Read on where the last description stopped."),
    Action("stop", "St&op speaking", "actionStop", "hotkey_stop", "stop", "Stop speaking and cancel any work."),
    Action("show-results", "Show r&esults", "actionShowResults", "hotkey_show_results", "show_results",
           "Show every result of this session, newest first, as text."),
    Action("copy-last", "Cop&y last result", "actionCopyLast", "hotkey_copy_last", "copy_last_result",
           "Put the last result on the clipboard."),
    Action("people", "&People...", "actionPeople", None, "show_people", "Enrol, rename or remove people."),
    Action("settings", "Setti&ngs...", "actionSettings", None, "show_settings", "Change hotkeys, voice and more."),
    Action("check-setup", "C&heck setup", "actionCheckSetup", None, "check_setup",
           "Say what works on this computer and what is missing."),
    Action("quit", "&Quit", "actionQuit", None, "quit", "Close SpaceVoice.", remote=False),
)

BY_ID: dict[str, Action] = {action.id: action for action in ACTIONS}

# The actions a global hotkey or `main.py trigger` can start: the ones that work without a dialog being open.
REMOTE_IDS: tuple[str, ...] = tuple(action.id for action in ACTIONS if action.remote)

# The actions the worker thread performs (capture and recognition); the rest run on the GUI thread.
WORKER_IDS: frozenset[str] = frozenset({"describe-screen", "describe-window", "describe-webcam", "read-text"})
