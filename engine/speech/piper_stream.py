"""Piper audio within a sentence, a piece at a time: the voice's graph cut in two where its vocoder starts.

A Piper voice is one VITS graph: text encoder, duration predictor and flow make a latent ``z`` [1, 192, frames],
then a HiFi-GAN vocoder turns each latent frame into ``hop`` (256) samples. The vocoder is most of the work and is
convolutional, so ``z`` can be decoded in pieces: each piece gets ``CONTEXT_FRAMES`` of its neighbours on both sides
and is trimmed back, which matches decoding it whole to within rounding (tests/engine/speech/test_piper.py). The
first piece is short, so the first sound comes after the encoder and a fraction of the vocoder instead of the whole
sentence; later pieces grow, so the overlap costs little. A Stop waits for one piece at most, not a sentence.

The cut is found by name (the first node of ``/dec/``, piper's export of ``dec``); the two halves are cached under
``cache_dir()/piper`` keyed by the model file's SHA-256 prefix and size, so the split (seconds) happens once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from engine import paths
from engine.atomicfile import write_atomic

log = logging.getLogger(__name__)

CONTEXT_FRAMES = 12  # 0.14 s each side: measured, 8 frames leave errors of 3e-4, 12 match one-shot to 7e-7
FIRST_FRAMES = 24  # the first piece: ~0.28 s of audio, more than the player's 0.15 s pre-roll
MAX_FRAMES = 512  # few boundaries: each costs 2 x CONTEXT_FRAMES of extra vocoder work
ENCODER_INPUTS = ["input", "input_lengths", "scales"]


def split_files(model: Path) -> tuple[Path, Path] | None:
    """(encoder, vocoder) halves of the Piper graph ``model``, made once and cached; ``None`` when the graph
    has no vocoder where piper's export puts it (the voice is then run whole)."""
    digest = hashlib.sha256()
    with model.open("rb") as source:  # the first MiB and the size identify a voice file well enough for a cache
        digest.update(source.read(1 << 20))
    key = f"{digest.hexdigest()[:16]}-{model.stat().st_size}"
    folder = paths.cache_dir() / "piper" / key
    encoder, vocoder = folder / "encoder.onnx", folder / "vocoder.onnx"
    if encoder.is_file() and vocoder.is_file():
        return encoder, vocoder
    import onnx
    import onnx.utils

    try:
        graph = onnx.load(str(model))
    except Exception as error:  # a damaged file: loading it whole reports it in plain words
        log.info("cannot read Piper voice %s to split it: %s", model.name, error)
        return None
    cut = next((node.input[0] for node in graph.graph.node if node.name.startswith("/dec/")), None)
    outputs = [o.name for o in graph.graph.output]
    inputs = [i.name for i in graph.graph.input]
    if cut is None or inputs[:3] != ENCODER_INPUTS or len(outputs) != 1:
        log.info("Piper voice %s cannot be cut at its vocoder; it runs whole", model.name)
        return None
    extractor = onnx.utils.Extractor(graph)
    halves = (extractor.extract_model(inputs, [cut]), extractor.extract_model([cut], outputs))
    try:
        for path, half in zip((encoder, vocoder), halves, strict=True):
            write_atomic(path, half.SerializeToString(), private=False)
    except OSError as error:  # a read-only cache: split again next time
        log.info("cannot cache the split Piper voice: %s", error)
        return None
    return encoder, vocoder


def pieces(frames: int) -> Iterator[tuple[int, int]]:
    """(start, end) latent frames of each piece: a short first one, then four times larger up to ``MAX_FRAMES``."""
    start, size = 0, FIRST_FRAMES
    while start < frames:
        end = min(frames, start + size)
        if frames - end < FIRST_FRAMES:  # no tiny last piece
            end = frames
        yield start, end
        start, size = end, min(MAX_FRAMES, size * 4)


def decode_in_pieces(vocoder: object, latent: np.ndarray, hop: int) -> Iterator[np.ndarray]:
    """Run the vocoder session on ``latent`` [1, C, frames] piece by piece; yield each piece's samples."""
    name = vocoder.get_inputs()[0].name  # type: ignore[attr-defined]
    frames = latent.shape[-1]
    for start, end in pieces(frames):
        low, high = max(0, start - CONTEXT_FRAMES), min(frames, end + CONTEXT_FRAMES)
        audio = np.asarray(vocoder.run(None, {name: latent[:, :, low:high]})[0],  # type: ignore[attr-defined]
                           dtype=np.float32).reshape(-1)
        yield audio[(start - low) * hop : (end - low) * hop]
