"""Text -> IPA phonemes with espeak-ng's library through ctypes, clause by clause, the way Piper voices expect.

Piper (piper-tts, GPL-3.0, never imported here) calls ``espeak_TextToPhonemesWithTerminator`` once per clause
and appends the clause's terminator (``. ? ! , : ;``, plus a space after ``, : ;``) to its phonemes; a sentence
ends where espeak-ng says the clause ends a sentence. Debian 12's libespeak-ng 1.51 has only
``espeak_TextToPhonemes``: it reads the same clause and moves the same text pointer, so the terminator is
recovered from the text it consumed (the last punctuation mark before the pointer, closing quotes and brackets
skipped). Where the library has the newer call it is used instead. ``tests/engine/speech/test_piper.py`` holds
both against piper-tts's own bridge on a corpus of sentences.

espeak-ng's state is global to the process: one lock serialises every call.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import threading
import unicodedata
from pathlib import Path
from typing import Any

from engine.errors import DeviceError

__all__ = ["EspeakPhonemizer", "clause_terminator"]

AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_CHARS_AUTO = 0
ESPEAK_PHONEMES_IPA = 0x02
# espeak-ng's clause flags (translate.h): what espeak_TextToPhonemesWithTerminator reports.
CLAUSE_TYPE_SENTENCE = 0x00080000
_TERMINATORS = {
    40 | 0x00000000 | CLAUSE_TYPE_SENTENCE: ".",
    40 | 0x00002000 | CLAUSE_TYPE_SENTENCE: "?",
    45 | 0x00003000 | CLAUSE_TYPE_SENTENCE: "!",
    20 | 0x00001000 | 0x00040000: ",",
    30 | 0x00000000 | 0x00040000: ":",
    30 | 0x00001000 | 0x00040000: ";",
}
# Marks espeak-ng reads as a clause's end, and what a person's text may put after them before the space.
_CLAUSE_MARKS = ".?!,:;"
_CLOSING = "\"'”’)]}»"
_LANGUAGE_FLAG = re.compile(r"\([^)]+\)")  # "(fr)...(en)" around words espeak-ng reads in another language

_lock = threading.Lock()


def clause_terminator(consumed: str) -> tuple[str, bool]:
    """The terminator of the clause espeak-ng read as ``consumed``, and whether it ends a sentence.

    espeak-ng ends a clause at ``. ? ! , : ;`` followed by a space (or the end), after any closing quotes or
    brackets; text that simply ran out ends a sentence with no terminator. An ellipsis ("..." or "…") is a pause
    espeak-ng does not report as one of the six marks.
    """
    tail = consumed.rstrip().rstrip(_CLOSING)
    run = tail[len(tail.rstrip(_CLAUSE_MARKS + "…")):]
    if run.startswith(("..", "…")):
        return "", False
    if not run and tail.endswith((" –", " —")):  # a spaced dash is a semicolon's pause to espeak-ng
        return ";", False
    if not run:
        return "", True
    # "?!" is a question, "!?" an exclamation: espeak-ng classifies a run of marks by its first one.
    return run[0], run[0] in ".?!"


def _char_start(data: bytes, position: int) -> int:
    """Where the character before ``position`` starts: espeak-ng's pointer is one character past the clause (it
    read the next clause's first character to decide, and keeps it for the next call)."""
    position -= 1
    while position > 0 and data[position] & 0xC0 == 0x80:  # a UTF-8 continuation byte
        position -= 1
    return max(position, 0)


class EspeakPhonemizer:
    """espeak-ng's phonemes for Piper voices. ``library``: a path or soname (default ``libespeak-ng.so.1``);
    ``data_dir``: its ``espeak-ng-data`` folder (default: the library's own)."""

    def __init__(self, library: str | Path | None = None, data_dir: str | Path | None = None) -> None:
        name = str(library) if library else (ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1")
        try:
            self._lib = ctypes.CDLL(name)
        except OSError as error:
            raise DeviceError("The espeak-ng library is missing, so the Piper voice cannot read text.",
                              "Install the libespeak-ng1 package (Linux), or use the system voice.") from error
        self._lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib.espeak_Initialize.restype = ctypes.c_int
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_SetVoiceByName.restype = ctypes.c_int
        self._lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        self._lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self._with_terminator: Any = None
        try:
            self._with_terminator = self._lib.espeak_TextToPhonemesWithTerminator
            self._with_terminator.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int,
                                              ctypes.POINTER(ctypes.c_int)]
            self._with_terminator.restype = ctypes.c_char_p
        except AttributeError:  # libespeak-ng 1.51 (Debian 12) lacks it
            pass
        path = str(data_dir).encode() if data_dir else None
        with _lock:
            if self._lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, path, 0) < 0:
                raise DeviceError("espeak-ng could not start (its data files are missing).",
                                  "Reinstall the espeak-ng-data package, or use the system voice.")
        self._voice: str | None = None

    @property
    def has_terminator_call(self) -> bool:
        """True when the library reports clause terminators itself (espeak-ng 1.52 and later)."""
        return self._with_terminator is not None

    def clauses(self, text: str, voice: str = "en-us", *, recover: bool | None = None) -> list[tuple[str, str, bool]]:
        """espeak-ng's clauses of ``text`` as (IPA phonemes, terminator, ends a sentence). ``recover`` forces
        (True) or forbids (False) recovering terminators from the text instead of the newer library call."""
        use_recovery = self._with_terminator is None if recover is None else recover
        data = text.encode("utf-8")
        buffer = ctypes.create_string_buffer(data)
        start = ctypes.addressof(buffer)
        pointer = ctypes.c_void_p(start)
        found: list[tuple[str, str, bool]] = []
        clause_start = 0  # espeak-ng keeps the character it read ahead: the pointer is not where a clause starts
        with _lock:
            self._set_voice(voice)
            while pointer.value is not None:
                if use_recovery:
                    raw = self._lib.espeak_TextToPhonemes(ctypes.byref(pointer), ESPEAK_CHARS_AUTO,
                                                          ESPEAK_PHONEMES_IPA)
                    after = len(data) if pointer.value is None else _char_start(data, pointer.value - start)
                    terminator, ends = clause_terminator(data[clause_start:after].decode("utf-8", "replace"))
                    clause_start = after
                else:
                    flags = ctypes.c_int(0)
                    assert self._with_terminator is not None
                    raw = self._with_terminator(ctypes.byref(pointer), ESPEAK_CHARS_AUTO, ESPEAK_PHONEMES_IPA,
                                                ctypes.byref(flags))
                    masked = flags.value & 0x000FFFFF
                    terminator, ends = _TERMINATORS.get(masked, ""), bool(masked & CLAUSE_TYPE_SENTENCE)
                found.append(((raw or b"").decode("utf-8", "replace"), terminator, ends))
        return found

    def phonemize(self, text: str, voice: str = "en-us", *, recover: bool | None = None) -> list[list[str]]:
        """Phonemes of ``text`` grouped by sentence, one code point each, as Piper voices were trained on."""
        sentences: list[list[str]] = []
        current: list[str] = []
        for phonemes, terminator, ends in self.clauses(text, voice, recover=recover):
            phonemes = _LANGUAGE_FLAG.sub("", phonemes) + terminator
            if terminator in (",", ":", ";"):
                phonemes += " "  # a pause inside the sentence, not its end
            current.extend(unicodedata.normalize("NFD", phonemes))
            if ends:
                sentences.append(current)
                current = []
        if current:
            sentences.append(current)
        return [s for s in sentences if s]

    def _set_voice(self, voice: str) -> None:
        if voice != self._voice:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise DeviceError(f"espeak-ng has no voice '{voice}' for the Piper voice.",
                                  "Install the espeak-ng-data package, or choose another Piper voice.")
            self._voice = voice
