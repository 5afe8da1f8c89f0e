"""Split text into sentences, so the first one can play while the rest is still being made, and stop is quick.

A sentence ends at ``.``, ``!``, ``?`` or ``…`` (optionally followed by closing quotes or brackets) before
white space, or at a line break. Common abbreviations ("Dr.", "e.g.") and numbers ("3.5") do not end one.
A sentence longer than ``max_chars`` is cut at the last comma, semicolon or colon before the limit, else at a
space, so no piece keeps the listener waiting. Inline tags such as ``<laugh>`` pass through untouched.
"""

from __future__ import annotations

import re

# Words that end with a full stop without ending the sentence (compared lower-case, without the dot).
ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "approx", "no", "fig",
    "inc", "ltd", "co", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
})

# A candidate end: terminal punctuation, optional closing quotes/brackets, then white space or the end.
_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s|$)")
_SOFT_BREAK = re.compile(r"[,;:]\s")

DEFAULT_MAX_CHARS = 300


def split_sentences(text: str, *, max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
    """Return the sentences of ``text`` in order, stripped, none empty and none longer than ``max_chars``."""
    sentences: list[str] = []
    for paragraph in re.split(r"\s*\n\s*", text):
        for sentence in _split_paragraph(paragraph.strip()):
            sentences.extend(_cut_long(sentence, max_chars))
    return [s for s in sentences if s]


def _split_paragraph(paragraph: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for match in _END.finditer(paragraph):
        end = match.end()
        if match.group().startswith(".") and len(match.group().rstrip("\"'”’)]")) == 1 and _is_abbreviation(
                paragraph[start:match.start()]):
            continue
        pieces.append(paragraph[start:end].strip())
        start = end
    pieces.append(paragraph[start:].strip())
    return [p for p in pieces if p]


def _is_abbreviation(before: str) -> bool:
    words = before.split()
    if not words:
        return False
    word = words[-1].lower().lstrip("(\"'“‘")
    # A single letter ("J. Smith") is an initial, not the end of a sentence.
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _cut_long(sentence: str, max_chars: int) -> list[str]:
    pieces: list[str] = []
    while len(sentence) > max_chars:
        window = sentence[:max_chars]
        soft = [m.end() for m in _SOFT_BREAK.finditer(window)]
        cut = soft[-1] if soft else window.rfind(" ") + 1
        if cut <= 0:  # one enormous word: cut it anyway rather than wait for it
            cut = max_chars
        pieces.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    pieces.append(sentence)
    return pieces
