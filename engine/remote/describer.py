"""Describe a picture, or answer a question about it, with a vision model on the server.

The picture is sent once per request as a JPEG data URL, resized first to what such models take (at most
``MAX_SIDE`` pixels on its longer side) and compressed until it fits ``MAX_BYTES``: a 1920x1080 screenshot goes out
as about 100-250 kB, not a 3 MB PNG. The people and text SpaceVoice found locally go with it as context, so the
server names people it could not know and does not misread text that was read here. The answer streams back as
server-sent events and is handed on piece by piece, so the first sentence can be spoken while the rest is written.
"""

from __future__ import annotations

import base64
import io
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.describe import Caption
from engine.remote import RemoteError
from engine.remote.client import RemoteClient
from engine.remote.config import RemoteConfig

log = logging.getLogger(__name__)

MAX_SIDE = 1280
MAX_BYTES = 300_000
MAX_ANSWER_TOKENS = 300

# Written for a listener who cannot see the picture (the same rules as the local describers).
DESCRIBE_PROMPT = ("Describe this picture for a blind person in two or three short sentences: what matters most "
                   "first. Do not guess at text you cannot read, and say so when you are unsure.")


@dataclass(frozen=True)
class EncodedPicture:
    """The picture as sent: JPEG bytes and their size in pixels."""

    jpeg: bytes
    width: int
    height: int

    def data_url(self) -> str:
        """``data:image/jpeg;base64,...`` for an ``image_url`` content part."""
        return "data:image/jpeg;base64," + base64.b64encode(self.jpeg).decode("ascii")


def encode_picture(image: np.ndarray, *, max_side: int = MAX_SIDE, max_bytes: int = MAX_BYTES) -> EncodedPicture:
    """Resize an RGB picture to at most ``max_side`` on its longer side and JPEG-compress it under ``max_bytes``."""
    from PIL import Image

    picture = Image.fromarray(np.ascontiguousarray(image[..., :3]).astype(np.uint8, copy=False), "RGB")
    side = max_side
    while True:
        scaled = picture
        if max(picture.size) > side:
            scale = side / max(picture.size)
            scaled = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))),
                                    Image.Resampling.BILINEAR, reducing_gap=2.0)
        for quality in (85, 75, 60, 45):
            buffer = io.BytesIO()
            scaled.save(buffer, "JPEG", quality=quality, optimize=True)
            if buffer.tell() <= max_bytes:
                return EncodedPicture(buffer.getvalue(), scaled.width, scaled.height)
        side = int(max(scaled.size) * 0.75)
        if side < 64:
            return EncodedPicture(buffer.getvalue(), scaled.width, scaled.height)


def context_sentence(people: list[str], text_lines: list[str]) -> str:
    """What SpaceVoice found locally, for the model: names of recognised people (left to right) and text read."""
    parts = []
    if people:
        parts.append("People recognised in the picture, from left to right: " + ", ".join(people) + ".")
    if text_lines:
        joined = " / ".join(line.strip() for line in text_lines if line.strip())[:1500]
        parts.append(f"Text read in the picture: {joined}")
    return " ".join(parts)


class RemoteDescriber:
    """Implements `engine.describe.CaptionStage` (and questions) with the server's vision model."""

    name = "remote"

    def __init__(self, config: RemoteConfig, key: str = "", client: RemoteClient | None = None) -> None:
        self.config = config
        self.client = client or RemoteClient(config.base, key)
        self.last_bytes_sent = 0

    def stream_answer(self, image: np.ndarray, question: str | None = None, *, context: str = "",
                      cancel: threading.Event | None = None, history: list[dict[str, Any]] | None = None
                      ) -> Iterator[str]:
        """Yield the answer's text as it arrives. ``question`` None: a description for a blind listener."""
        problem = self.config.usable()
        if problem:
            raise RemoteError(problem)
        picture = encode_picture(image)
        prompt = question.strip() if question else DESCRIBE_PROMPT
        if context:
            prompt = f"{prompt}\n\n{context}"
        first = {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": picture.data_url()}},
            {"type": "text", "text": prompt},
        ]}
        payload: dict[str, Any] = {"model": self.config.describer_model or "default",
                                   "messages": [first, *(history or [])],
                                   "max_tokens": MAX_ANSWER_TOKENS, "temperature": 0.2}
        self.last_bytes_sent = len(picture.jpeg)
        log.info("remote describe: %dx%d picture, %d bytes", picture.width, picture.height, len(picture.jpeg))
        for event in self.client.stream("/v1/chat/completions", payload, cancel=cancel):
            for choice in event.get("choices") or ():
                delta = (choice.get("delta") or {}).get("content") or ""
                if delta:
                    yield str(delta)

    def caption(self, image: np.ndarray, *, context: str = "") -> Caption:
        """The whole description at once (the `CaptionStage` contract)."""
        text = "".join(self.stream_answer(image, context=context)).strip()
        if not text:
            raise RemoteError("The server's vision model gave an empty answer.",
                              "Check remote_describer_model: main.py remote test lists the server's models.")
        return Caption(text=text, confidence=1.0)


class FallbackCaptioner:
    """The server first; when it fails, this computer's own captioner for that request, said once per session."""

    name = "remote"

    def __init__(self, remote: RemoteDescriber, local: Any | None, local_problem: str = "") -> None:
        self.remote = remote
        self.local = local
        self.local_problem = local_problem
        self.notice: str | None = None  # what the listener hears once
        self._told = False

    def caption(self, image: np.ndarray, *, context: str = "") -> Caption:
        """Describe with the server, else locally; raises only when neither can."""
        try:
            return self.remote.caption(image, context=context)
        except RemoteError as error:
            log.warning("remote describer failed: %s", error)
            if not self._told:
                self._told = True
                self.notice = f"{error.message} This computer's own scene model describes it instead."
            if self.local is None:
                raise RemoteError(error.message, self.local_problem or "No local scene model is installed.") from None
            return self.local.caption(image)


def load_remote_captioner(settings: Any) -> FallbackCaptioner:
    """The ``captioner remote`` stage: the server, with the catalogue's local captioner as its fallback."""
    from engine.errors import SpaceVoiceError
    from engine.remote.keys import load_key

    config = RemoteConfig.from_settings(settings)
    problem = config.usable()
    if problem:
        raise RemoteError(problem)
    local, local_problem = None, ""
    from engine.settings import BY_NAME

    fallback = str(getattr(settings, "remote_fallback_captioner", "") or "") or str(BY_NAME["captioner"].default)
    if fallback != "remote":
        try:
            from engine.captioner import load_captioner
            from engine.settings import Settings

            local = load_captioner(Settings({**settings.as_dict(), "captioner": fallback}))
        except SpaceVoiceError as error:
            local_problem = str(error)
    return FallbackCaptioner(RemoteDescriber(config, load_key()), local, local_problem)
