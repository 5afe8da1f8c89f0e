"""What the tray says is for a person at the desktop, not at a terminal: no command-line options (``--out
FILE.wav``), no environment variable names (``SPACEVOICE_MODELS``), no ``[Errno -2]`` codes.

The engine's messages are written for both; `for_tray` takes out the clauses meant for the command line ("...,
or write the speech to a file with --out FILE.wav") and the error codes, and keeps the rest of the sentence.
"""

from __future__ import annotations

import re

# A command-line option (--out, --face) or an environment variable name (SPACEVOICE_MODELS, HF_TOKEN).
_TERMINAL_ONLY = re.compile(r"(?<![\w-])--[a-z][\w-]*|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b")
# ", or set TESSERACT_CMD to the full path of tesseract.exe" / ", or use --out FILE.wav": up to the next , ; : .
_CLAUSE = re.compile(r",? or [^,;:.]*?(?:(?<![\w-])--[a-z][\w-]*|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b)[^,;:.]*(?:\.\w+)?")
_ERRNO = re.compile(r"\s*\(\[Errno -?\d+\][^)]*\)|\[Errno -?\d+\]\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def for_tray(text: str) -> str:
    """``text`` without command-line advice, environment variable names and error codes."""
    text = _ERRNO.sub("", text)
    text = _CLAUSE.sub("", text)
    sentences = [s for s in _SENTENCE_END.split(text) if s and not _TERMINAL_ONLY.search(s)]
    return " ".join(sentences).strip() or text.strip()
