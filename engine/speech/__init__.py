"""Speech: text in, a stream of PCM chunks out, played by one player that can stop at once.

Backends implement `Speaker`; `engine.speech.choice` orders them (Orpheus when it keeps up with real time,
else the system voice) and announces a fallback once.
"""

from engine.speech.base import AudioChunk, Speaker, SpeechSpy

__all__ = ["AudioChunk", "Speaker", "SpeechSpy"]
