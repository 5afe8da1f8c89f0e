"""Catches what goes wrong quietly: warnings, log records at WARNING or above, and every write to stderr, by
Python or by a native library (file descriptor 2 is redirected for the duration and replayed afterwards).

The self-test uses it to fail on any unexpected error output.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class ErrorOutput:
    """What went wrong quietly during the run: warnings, log records at WARNING+, stderr text."""

    warnings: list[str] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    stderr: str = ""

    def lines(self) -> list[str]:
        """Each unexpected output as one line, for the failure message."""
        # A log record also reaches stderr through the log handler: count it once.
        text = [line for line in self.stderr.splitlines() if line.strip() and line not in self.records]
        return [*self.records, *self.warnings, *(f"stderr: {line}" for line in text)]


class _RecordHandler(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(f"{record.levelname} {record.name}: {record.getMessage()}")


@contextlib.contextmanager
def watch_error_output() -> Iterator[ErrorOutput]:
    """Collect warnings, WARNING+ log records and every stderr write (Python and native) until the block ends.

    The captured stderr is written back to the real stderr afterwards, so nothing is hidden from the user.
    """
    seen = ErrorOutput()
    handler = _RecordHandler(seen.records)
    root = logging.getLogger()
    root.addHandler(handler)
    python_stderr = sys.stderr
    recorded = _TextSink()
    with tempfile.TemporaryFile() as native:
        saved_fd: int | None = None
        with contextlib.suppress(OSError, ValueError, AttributeError):
            if python_stderr is not None:
                python_stderr.flush()
            saved_fd = os.dup(2)
            os.dup2(native.fileno(), 2)  # native libraries (onnxruntime, espeak, Qt) write to fd 2 directly
        sys.stderr = recorded
        try:
            with warnings.catch_warnings(record=True) as caught:
                yield seen
        finally:
            if saved_fd is not None:
                os.dup2(saved_fd, 2)
                os.close(saved_fd)
            sys.stderr = python_stderr
            root.removeHandler(handler)
            native.seek(0)
            seen.stderr = recorded.getvalue() + native.read().decode("utf-8", "replace")
            seen.warnings.extend(f"{w.category.__name__}: {w.message}" for w in caught)
    if seen.stderr and sys.stderr is not None:
        sys.stderr.write(seen.stderr)
        sys.stderr.flush()


class _TextSink:
    """A stand-in for sys.stderr that keeps what Python code writes."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        """Nothing to flush: the text is kept in memory."""

    def getvalue(self) -> str:
        """Everything written so far."""
        return "".join(self.parts)
