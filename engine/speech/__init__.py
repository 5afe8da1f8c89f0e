"""Speech: text in, a stream of PCM chunks out, played by one player that can stop at once.

Backends implement `Speaker`; `engine.speech.choice` orders them (Orpheus when it keeps up with real time,
else the system voice) and announces a fallback once.
"""

from typing import Any

__all__ = ["AudioChunk", "Speaker", "SpeechSpy"]


def __getattr__(name: str) -> Any:
    # Lazy: `engine.speech.base` imports numpy, which the tray must not pay for before its icon shows.
    if name in __all__:
        from engine.speech import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
