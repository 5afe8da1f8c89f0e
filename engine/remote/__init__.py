"""Use a server on the home or office network for the heavy jobs: an OpenAI-compatible server (llama.cpp's
``llama-server``, ``llama-cpp-python``, Ollama, LM Studio, vLLM) describes pictures and generates Orpheus' audio
tokens, while SpaceVoice keeps the people and text stages, SNAC decoding and playback on this computer.

Off by default. `engine.remote.config` decides whether a request may be made at all (the user's opt-in, the
address policy); `engine.remote.client` makes it (streamed, bounded in time, cancellable); `describer` and `voice`
are the two jobs. Nothing else is ever sent.
"""

from __future__ import annotations

from engine.errors import SpaceVoiceError


class RemoteError(SpaceVoiceError):
    """The server could not do the job: said once in plain words; the local engine takes over for that request."""

    exit_code = 6


__all__ = ["RemoteError"]
