"""Text to ids and back with the model's ``tokenizer.json`` (the `tokenizers` library, no transformers).

Decoding follows transformers' fast tokenizers: special tokens skipped, then its clean-up of spaces before
punctuation when ``tokenizer_config.json`` asks for it. `TextStream` turns a growing list of ids into the new text
of each step, holding back a broken UTF-8 character and the start of a possible stop string.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.errors import ModelError
from engine.vlm.layout import read_json

_CLEAN_UP = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
             (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))


class TextTokens:
    """The model's tokenizer: ``encode`` as its processor tokenizes a prompt, ``decode`` as it decodes an answer."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        path = Path(folder) / "tokenizer.json"
        try:
            self._tokenizer = Tokenizer.from_file(str(path))
        except Exception as error:  # tokenizers raises plain Exceptions for missing or damaged files
            raise ModelError(f"The tokenizer of {Path(folder).name} cannot be read.",
                             "Export or download the model again.") from error
        config = read_json(Path(folder) / "tokenizer_config.json")
        self.clean_up_spaces = bool(config.get("clean_up_tokenization_spaces", False))
        self.special_tokens = {key: value for key, value in config.items()
                               if key.endswith("_token") and isinstance(value, str)}

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``, with the tokenizer's own special tokens added as its processor adds them."""
        return list(self._tokenizer.encode(text, add_special_tokens=True).ids)

    def token_id(self, token: str) -> int | None:
        """The id of one token, or ``None`` when the vocabulary lacks it."""
        return self._tokenizer.token_to_id(token)

    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids`` with special tokens skipped."""
        text = str(self._tokenizer.decode(list(ids), skip_special_tokens=True))
        if self.clean_up_spaces:
            for before, after in _CLEAN_UP:
                text = text.replace(before, after)
        return text


class TextStream:
    """The text of an answer as its ids arrive: `push` returns what can be shown now, `text` all of it so far."""

    def __init__(self, tokens: TextTokens, stop: Sequence[str] = ()) -> None:
        self._tokens = tokens
        self._stop = tuple(s for s in stop if s)
        self._hold = max((len(s) for s in self._stop), default=1) - 1
        self.ids: list[int] = []
        self.text = ""
        self._shown = 0
        self.stopped = False

    def push(self, token: int) -> str:
        """Add one generated id; return the new text safe to show (maybe empty). Sets `stopped` at a stop string."""
        self.ids.append(token)
        self.text = self._tokens.decode(self.ids)
        for stop in self._stop:
            at = self.text.find(stop)
            if at >= 0:
                self.text = self.text[:at]
                self.stopped = True
        end = len(self.text) if self.stopped else len(self.text) - self._hold
        if not self.stopped and self.text.endswith("\ufffd"):
            end = min(end, len(self.text) - 1)  # half of a multi-byte character: wait for the rest
        return self._emit(end)

    def flush(self) -> str:
        """The text still held back, at the end of the answer."""
        return self._emit(len(self.text))

    def _emit(self, end: int) -> str:
        if end <= self._shown:
            return ""
        piece = self.text[self._shown:end]
        self._shown = end
        return piece
