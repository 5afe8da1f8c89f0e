"""An answer spoken as it is written: each sentence goes to the narrator the moment it is complete.

Text pieces arrive from `engine.vlm.conversation.Conversation.stream`; `SentenceFeed` keeps the unfinished tail
and hands every finished sentence (by `engine.speech.sentences.split_sentences`, so abbreviations and numbers do
not end one) to ``speak``. The narrator queues them without interrupting, so the first sentence is heard while the
model is still writing the rest; Stop (the narrator's and the generation's cancel event) ends both.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from engine.speech.sentences import split_sentences


class SentenceFeed:
    """Collects text pieces; calls ``speak(sentence)`` for each sentence as soon as the next one has begun."""

    def __init__(self, speak: Callable[[str], None]) -> None:
        self._speak = speak
        self._pending = ""
        self.spoken: list[str] = []

    def push(self, piece: str) -> None:
        """Add a piece of the answer; speak every sentence it completes."""
        self._pending += piece
        sentences = split_sentences(self._pending)
        # The last sentence may still grow (or be a number like "3." waiting for its decimals): keep it, unless
        # the text ends at a line break, which always ends a sentence.
        complete = sentences if self._pending.endswith("\n") else sentences[:-1]
        if not complete:
            return
        for sentence in complete:
            self._say(sentence)
        tail = sentences[-1] if len(complete) < len(sentences) else ""
        self._pending = self._pending[self._pending.rfind(tail):] if tail else ""

    def finish(self) -> None:
        """The answer is complete: speak what is left."""
        for sentence in split_sentences(self._pending):
            self._say(sentence)
        self._pending = ""

    def _say(self, sentence: str) -> None:
        self.spoken.append(sentence)
        self._speak(sentence)


def speak_as_written(pieces: Iterable[str], narrator: Any, *, cancel: threading.Event | None = None) -> str:
    """Feed ``pieces`` to ``narrator`` sentence by sentence (queued, not interrupting); return the whole text.

    When ``cancel`` is set the rest is neither read nor spoken (the generator is closed, which ends generation).
    """
    feed = SentenceFeed(lambda sentence: narrator.speak(sentence, interrupt=False))
    text = ""
    iterator = iter(pieces)
    try:
        for piece in iterator:
            if cancel is not None and cancel.is_set():
                break
            text += piece
            feed.push(piece)
        else:
            feed.finish()
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    return text
