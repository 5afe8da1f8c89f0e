"""SNAC decoding on onnxruntime: parity with the `snac` package on torch, streaming vs one-shot, bad codes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.errors import ModelError
from engine.speech.snac import (
    SAMPLES_PER_FRAME,
    SnacDecoder,
    StreamingSnacDecoder,
    StreamStats,
    clamp_codes,
    find_decoder,
    frames_to_levels,
)

pytest.importorskip("snac", reason="the export extra is not installed")

# Streaming vs one-shot, measured on the tiny random decoder (tanh output, peak ~1): the first chunk has only one
# frame of lookahead (max error 0.007-0.019 at its very end); later chunks have 2 frames each side and are within
# ~3e-4. These bounds leave a margin over what was measured, and stay far below an audible click.
MAX_STREAM_ERROR = 0.03
MAX_ERROR_AFTER_FIRST_CHUNK = 1e-3
RMS_STREAM_ERROR = 2e-3


@pytest.fixture(scope="module")
def snac_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_orpheus import built_once

    return built_once("snac", tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def decoder(snac_dir: Path) -> SnacDecoder:
    return SnacDecoder(snac_dir, device="cpu")


def _codes(frames: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4096, (frames, 7))


def _torch_decode(model, frames: np.ndarray) -> np.ndarray:
    """Reference: `SNAC.decode` on torch, levels built here independently of `frames_to_levels`."""
    import torch

    level_0 = [f[0] for f in frames]
    level_1 = [c for f in frames for c in (f[1], f[4])]
    level_2 = [c for f in frames for c in (f[2], f[3], f[5], f[6])]
    with torch.no_grad():
        audio = model.decode([torch.tensor([level], dtype=torch.long) for level in (level_0, level_1, level_2)])
    return audio.numpy().reshape(-1)


def test_onnx_decoder_equals_snac_on_torch(decoder: SnacDecoder) -> None:
    from tests.tiny_orpheus import tiny_snac_torch

    model = tiny_snac_torch()
    for frames in (1, 5, 17):
        codes = _codes(frames, seed=frames)
        ours = decoder.decode(codes)
        assert ours.shape == (frames * SAMPLES_PER_FRAME,) and ours.dtype == np.float32
        np.testing.assert_allclose(ours, _torch_decode(model, codes), atol=2e-4)


def test_levels_follow_orpheus_layout() -> None:
    frame = np.array([[10, 11, 12, 13, 14, 15, 16], [20, 21, 22, 23, 24, 25, 26]])
    level_0, level_1, level_2 = frames_to_levels(frame)
    assert level_0.tolist() == [[10, 20]]
    assert level_1.tolist() == [[11, 14, 21, 24]]
    assert level_2.tolist() == [[12, 13, 15, 16, 22, 23, 25, 26]]


def test_stream_starts_after_two_frames_and_equals_one_shot(decoder: SnacDecoder) -> None:
    codes = _codes(40, seed=3)
    one_shot = decoder.decode(codes)
    stream = StreamingSnacDecoder(decoder, adaptive=False)  # the fixed schedule (frames arrive at once here)
    chunks, ready_after = [], []
    for index, frame in enumerate(codes, start=1):
        chunk = stream.push(frame)
        if chunk is not None:
            chunks.append(chunk)
            ready_after.append(index)
    chunks.append(stream.finish())
    assert ready_after[0] == 2 and len(chunks[0]) == SAMPLES_PER_FRAME  # first audio after 2 frames
    sizes = [len(c) for c in chunks[:-1]]
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]  # later chunks larger
    streamed = np.concatenate(chunks)
    assert streamed.shape == one_shot.shape  # nothing dropped, nothing repeated
    error = np.abs(streamed - one_shot)
    assert error.max() < MAX_STREAM_ERROR
    assert error[SAMPLES_PER_FRAME:].max() < MAX_ERROR_AFTER_FIRST_CHUNK
    assert np.sqrt(np.mean(error**2)) < RMS_STREAM_ERROR
    # No clicks: the jump between consecutive samples at every chunk boundary is like the one-shot's there.
    for boundary in np.cumsum(sizes):
        jump = abs(streamed[boundary] - streamed[boundary - 1])
        assert jump <= abs(one_shot[boundary] - one_shot[boundary - 1]) + MAX_STREAM_ERROR
    assert stream.stats.work_ratio <= 1.5


def test_streaming_work_is_far_below_the_upstream_window(decoder: SnacDecoder) -> None:
    codes = _codes(60, seed=4)
    stream = StreamingSnacDecoder(decoder, adaptive=False)
    before = decoder.frames_decoded
    list(stream.stream(iter(codes)))
    ours = (decoder.frames_decoded - before) / len(codes)
    assert ours == pytest.approx(stream.stats.work_ratio)
    assert ours <= 1.3  # upstream's 28-token window decodes 4 frames per frame played
    for frames in (12, 15, 20, 26, 33):  # any utterance of 1 s or more stays within 1.5x
        stream = StreamingSnacDecoder(decoder, adaptive=False)
        audio = np.concatenate(list(stream.stream(iter(_codes(frames, seed=frames)))))
        assert len(audio) == frames * SAMPLES_PER_FRAME and stream.stats.work_ratio <= 1.5


def _play(
    decoder: SnacDecoder, codes: np.ndarray, speed: float, adaptive: bool
) -> tuple[float, StreamStats, np.ndarray]:
    """Frames arrive at ``speed`` x real time (a simulated clock); a player starts with the first chunk and plays
    each chunk as soon as it has one. Returns the seconds of silence after playback began, the stream's stats and
    the audio."""
    frame_seconds = SAMPLES_PER_FRAME / 24000
    now = [0.0]
    stream = StreamingSnacDecoder(decoder, adaptive=adaptive, clock=lambda: now[0])
    arrivals: list[tuple[float, np.ndarray]] = []
    for index, frame in enumerate(codes, start=1):
        now[0] = index * frame_seconds / speed
        chunk = stream.push(frame)
        if chunk is not None:
            arrivals.append((now[0], chunk))
    arrivals.append((now[0], stream.finish()))
    playing_until, silence = arrivals[0][0], 0.0
    for at, chunk in arrivals:
        silence += max(0.0, at - playing_until)
        playing_until = max(playing_until, at) + len(chunk) / 24000
    return silence, stream.stats, np.concatenate([chunk for _, chunk in arrivals])


def test_adaptive_stream_keeps_playing_when_generation_is_near_real_time(decoder: SnacDecoder) -> None:
    codes = _codes(60, seed=9)
    one_shot = decoder.decode(codes)
    fixed_silence, _, _ = _play(decoder, codes, 2.0, adaptive=False)
    silence, stats, audio = _play(decoder, codes, 2.0, adaptive=True)
    assert fixed_silence > 0.2  # big fixed chunks leave the listener waiting at 2x real time
    assert silence == 0.0 and stats.early_chunks > 0 and stats.work_ratio <= 1.5
    assert np.abs(audio - one_shot)[SAMPLES_PER_FRAME:].max() < MAX_ERROR_AFTER_FIRST_CHUNK
    _, fast, _ = _play(decoder, codes, 50.0, adaptive=True)  # far ahead of real time: the plain schedule
    assert fast.early_chunks == 0 and fast.work_ratio < stats.work_ratio


def test_out_of_range_codes_are_clamped_and_counted_never_dropped(decoder: SnacDecoder) -> None:
    codes = _codes(6, seed=5)
    bad = codes.copy()
    bad[2, 3] = 5000
    bad[4, 0] = -7
    fixed, count = clamp_codes(bad)
    assert count == 2 and fixed[2, 3] == 4095 and fixed[4, 0] == 0
    audio = decoder.decode(bad)
    assert len(audio) == 6 * SAMPLES_PER_FRAME
    np.testing.assert_array_equal(audio, decoder.decode(fixed))
    stream = StreamingSnacDecoder(decoder)
    streamed = np.concatenate(list(stream.stream(iter(bad))))
    assert stream.clamped_codes == 2 and len(streamed) == len(audio)


def test_onnx_community_layout_and_missing_model(snac_dir: Path, tmp_path: Path) -> None:
    community = tmp_path / "snac_24khz-ONNX"
    (community / "onnx").mkdir(parents=True)
    for file in snac_dir.glob("decoder_model.onnx*"):
        shutil.copy(file, community / "onnx" / file.name)
    assert find_decoder(community) == community / "onnx" / "decoder_model.onnx"
    assert len(SnacDecoder(community, device="cpu").decode(_codes(2))) == 2 * SAMPLES_PER_FRAME
    with pytest.raises(ModelError, match="No SNAC decoder") as caught:
        find_decoder(tmp_path / "empty")
    assert "models download snac-24khz" in caught.value.hint


@pytest.mark.slow
def test_full_size_decoder_equals_snac_on_torch(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The real 19.8M-parameter configuration (random weights): the export path users run."""
    from engine.models.export_snac import build_snac, disable_noise
    from tests.tiny_orpheus import built_once

    folder = built_once("snac-full", tmp_path_factory.getbasetemp())
    model = disable_noise(build_snac(seed=1))
    assert sum(p.numel() for p in model.decoder.parameters()) + sum(
        p.numel() for p in model.quantizer.parameters()) > 10_000_000
    codes = _codes(6, seed=6)
    ours = SnacDecoder(folder, device="cpu").decode(codes)
    np.testing.assert_allclose(ours, _torch_decode(model, codes), atol=5e-4)
