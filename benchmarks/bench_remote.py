"""The remote engine's own cost, apart from the server's: picture preparation and bytes sent per describe, and for
Orpheus on the server, the time from the server's tokens arriving on the wire to our first audio (event parsing,
frame assembly, SNAC decoding), plus how far our SNAC decoding keeps ahead of real time.

The server is llama-cpp-python's (``python -m llama_cpp.server``) on 127.0.0.1 serving the tiny Orpheus-shaped
Llama of the tests (tests/tiny_gguf.py); what is measured here is SpaceVoice's side, so the model's size does not
matter, except that a fast server makes our overhead stand out more, not less. SNAC is the full-size 24 kHz decoder
(random weights, the same arithmetic), exported once into ``.cache/bench/snac_24khz`` (shared with bench_snac.py).

Reference paths, run side by side:
- picture: the raw screenshot as PNG (what a client sending the capture as is would send);
- voice: a bare ``http.client`` reader of the same stream, which notes when the 14th audio token (two SNAC frames,
  what our decoder needs for its first chunk) crosses the wire; our overhead is our first audio minus that.

Run: ``.venv/bin/python benchmarks/bench_remote.py [--runs 5]``
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402, F401 - before onnxruntime loads: its telemetry stays off
from engine.remote.config import RemoteConfig  # noqa: E402
from engine.remote.describer import encode_picture  # noqa: E402
from engine.remote.voice import RemoteOrpheusSpeaker, orpheus_prompt_text  # noqa: E402
from engine.speech.sampling import AUDIO_TOKEN_BASE, END_OF_SPEECH  # noqa: E402
from engine.speech.snac import SAMPLES_PER_FRAME, SnacDecoder, StreamingSnacDecoder  # noqa: E402

CACHE = ROOT / ".cache" / "bench"
SENTENCE = "The quick brown fox jumps over the lazy dog, and then it runs away into the woods."
AUDIO_ONLY = {"logit_bias": {str(i): 100.0 for i in (END_OF_SPEECH, *range(AUDIO_TOKEN_BASE, 156940))}}
MODEL = "tiny-orpheus"


def screen_picture() -> np.ndarray:
    """A 1920x1080 screen: a window with text and a photo on a plain desktop (a real photo from ../shared)."""
    from PIL import Image, ImageDraw

    screen = Image.new("RGB", (1920, 1080), (40, 70, 110))
    draw = ImageDraw.Draw(screen)
    draw.rectangle((200, 120, 1700, 960), fill=(245, 245, 245))
    for row in range(30):
        draw.text((240, 160 + row * 24), f"Line {row}: quarterly report, column {row * 7} total {row * 313}.",
                  fill=(20, 20, 20))
    photo = ROOT.parent / "shared" / "testdata" / "faces" / "multiface.jpg"
    if photo.is_file():
        screen.paste(Image.open(photo).convert("RGB").resize((640, 420)), (1000, 400))
    return np.asarray(screen)


def bench_picture(runs: int) -> list[tuple[str, str, str]]:
    image = screen_picture()
    from PIL import Image

    png = io.BytesIO()
    Image.fromarray(image).save(png, "PNG")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        picture = encode_picture(image)
        times.append((time.perf_counter() - started) * 1000)
    body = len(json.dumps({"url": picture.data_url()}))
    return [("1920x1080 screen, raw PNG (reference)", f"{png.tell() / 1000:.0f} kB", ""),
            ("ours: JPEG as sent", f"{len(picture.jpeg) / 1000:.0f} kB ({picture.width}x{picture.height})",
             f"{png.tell() / len(picture.jpeg):.1f}x smaller"),
            ("ours: request body (base64)", f"{body / 1000:.0f} kB", "target <= 300 kB picture"),
            ("ours: resize + encode", f"{statistics.median(times):.0f} ms", "")]


def wire_times(url: str, runs: int) -> list[float]:
    """Reference: seconds from sending to the 14th audio token on the wire, read with a bare client."""
    host, port = url.removeprefix("http://").split(":")
    payload = {"model": MODEL, "prompt": orpheus_prompt_text(SENTENCE, "tara"), "max_tokens": 70,
               "temperature": 0.0, "top_k": 1, "stream": True, **AUDIO_ONLY}
    body = json.dumps(payload).encode()
    times = []
    for _ in range(runs):
        connection = http.client.HTTPConnection(host, int(port))
        started = time.perf_counter()
        connection.request("POST", "/v1/completions", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        seen, buffer = 0, b""
        while seen < 14:
            piece = response.read1(65536)
            if not piece:
                break
            buffer += piece
            seen = buffer.count(b"<custom_token_")
        times.append(time.perf_counter() - started)
        connection.close()
    return times


def ours_first_audio(url: str, snac: Path, runs: int) -> list[float]:
    speaker = RemoteOrpheusSpeaker(RemoteConfig(True, url, MODEL, MODEL, ""), snac_dir=snac, extra=AUDIO_ONLY,
                                   sampling={"temperature": 0.0, "top_k": 1})
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        for _chunk in speaker.synthesize(SENTENCE):
            times.append(time.perf_counter() - started)
            speaker.stop()
            break
    return times


def snac_speed(snac: Path, frames: int = 94) -> tuple[float, float]:
    """Streaming decode of ``frames`` frames (8 s): audio seconds per decode second, and the decode time."""
    decoder = SnacDecoder(snac)
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4096, (frames, 7))
    stream = StreamingSnacDecoder(decoder, adaptive=False)
    started = time.perf_counter()
    for frame in codes:
        stream.push(frame)
    stream.finish()
    elapsed = time.perf_counter() - started
    return frames * SAMPLES_PER_FRAME / 24000 / elapsed, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from benchmarks.bench_snac import ensure_decoder
    from tests.llama_server import start_llama_server, stop
    from tests.tiny_gguf import write_tiny_orpheus_gguf
    from tests.tiny_orpheus import build_tiny_orpheus

    rows = bench_picture(args.runs)
    snac = ensure_decoder()
    folder = CACHE / "remote"
    if not (folder / "tiny-orpheus.gguf").is_file():
        orpheus = build_tiny_orpheus(folder / "tiny-orpheus")
        write_tiny_orpheus_gguf(orpheus / "torch", orpheus / "tokenizer.json", folder / "tiny-orpheus.gguf")
    with tempfile.TemporaryDirectory() as scratch:
        process, url = start_llama_server(folder / "tiny-orpheus.gguf", MODEL, Path(scratch) / "server.log")
        try:
            wire_times(url, 1)  # warm-up
            wire = statistics.median(wire_times(url, args.runs))
            ours = statistics.median(ours_first_audio(url, snac, args.runs))
        finally:
            stop(process)
    speed, decode_s = snac_speed(snac)
    rows += [("server: 14th audio token on the wire (reference)", f"{wire * 1000:.0f} ms", ""),
             ("ours: first audio played", f"{ours * 1000:.0f} ms", ""),
             ("ours: overhead beyond the server", f"{(ours - wire) * 1000:.0f} ms", "target <= 100 ms"),
             ("ours: SNAC streaming decode, 8 s of audio", f"{decode_s * 1000:.0f} ms",
              f"{speed:.1f}x real time (target >= 5x)")]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>24}  ratio / target")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>24}  {note}")


if __name__ == "__main__":
    main()
