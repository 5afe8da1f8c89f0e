"""What SpaceVoice told the user this session: every description, reading and answer, with its time and source.

Results describe the user's screen, so they stay in memory only. Only when the user turns on the
``keep_results_history`` setting is each result also appended to a history file that only they can read (0600,
created so from the start: there is no moment when it is readable by others). No Qt here: the tray shows the log
in its results window, and a command-line copy uses the same formatting.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine import paths

# Enough for a long working day of describes; older results drop off (the history file, when on, keeps them).
MAX_RESULTS = 500


@dataclass(frozen=True)
class Result:
    """One thing SpaceVoice said in answer to the user."""

    time: datetime
    source: str  # what produced it, as the user named it: "Describe screen", "Read text", "Question"
    text: str

    def heading(self) -> str:
        """``14:32:05, Describe screen``: the line a screen reader reads before the result."""
        return f"{self.time:%H:%M:%S}, {self.source}"

    def as_text(self) -> str:
        """The heading on its own line, then the result's lines."""
        return f"{self.heading()}\n{self.text}"


def history_file() -> Path:
    """Where results are appended when the user keeps a history (the user's data folder)."""
    return paths.data_dir() / "results-history.txt"


def append_private(path: Path, text: str) -> None:
    """Append ``text`` to ``path``, creating it readable and writable by its owner only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        if os.name == "posix":
            os.fchmod(descriptor, 0o600)  # a file made by an older version or by hand may be wider
        os.write(descriptor, text.encode("utf-8"))
    finally:
        os.close(descriptor)


class ResultLog:
    """The session's results, newest first; thread-safe. ``history`` is the file to append to, or None.

    ``on_added`` is called with each new `Result` (the results window refreshes from it).
    """

    def __init__(self, history: Path | None = None, *, clock: Callable[[], datetime] = datetime.now) -> None:
        self.history = history
        self._clock = clock
        self._lock = threading.Lock()
        self._results: list[Result] = []
        self.listeners: list[Callable[[Result], None]] = []

    def add(self, source: str, text: str) -> Result | None:
        """Record one result (blank text is not a result); returns it."""
        text = text.strip()
        if not text:
            return None
        result = Result(self._clock(), source, text)
        with self._lock:
            self._results.append(result)
            del self._results[:-MAX_RESULTS]
        if self.history is not None:
            append_private(self.history, f"{result.time:%Y-%m-%d} {result.as_text()}\n\n")
        for listener in list(self.listeners):
            listener(result)
        return result

    @property
    def last(self) -> Result | None:
        """The newest result, or None before the first."""
        with self._lock:
            return self._results[-1] if self._results else None

    def newest_first(self) -> list[Result]:
        """Every result of the session, newest first."""
        with self._lock:
            return list(reversed(self._results))

    def as_text(self) -> str:
        """Every result as plain text, newest first, a blank line between them."""
        return "\n\n".join(result.as_text() for result in self.newest_first())
