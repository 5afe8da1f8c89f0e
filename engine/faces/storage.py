"""The people file's format: reading and writing its bytes, checking names, setting a damaged file aside.

`engine.faces.gallery.FaceGallery` decides when to read and write; this module knows what the bytes are.
Format: ``{"format": "spacevoice-people", "version": 1, "embedder": ..., "people": [{"name", "added",
"embeddings": [base64 of 128 little-endian float32], "thumbnails": [file names]}]}``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import DataError, InputError

FORMAT = "spacevoice-people"
VERSION = 1
EMBEDDER = "sface-2021dec"
DIMENSION = 128
MAX_NAME_LENGTH = 60


@dataclass
class Person:
    """An enrolled person: a name, unit-length embeddings (K, 128), thumbnail file names, when added."""

    name: str
    embeddings: np.ndarray
    thumbnails: list[str] = field(default_factory=list)
    added: float = field(default_factory=time.time)


def check_name(name: str) -> str:
    """A usable name, trimmed; `InputError` for an empty, over-long or control-character name."""
    cleaned = " ".join(str(name).split())
    if not cleaned:
        raise InputError("The name is empty.", "Give the person's name, for example: people add Mia photo.jpg")
    if len(cleaned) > MAX_NAME_LENGTH or any(not ch.isprintable() for ch in cleaned):
        raise InputError("That name cannot be used.", f"Use at most {MAX_NAME_LENGTH} ordinary characters.")
    return cleaned


def serialize(people: Sequence[Person]) -> bytes:
    """The file's bytes for ``people``."""
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "embedder": EMBEDDER,
        "people": [
            {
                "name": p.name,
                "added": round(p.added, 3),
                "embeddings": [base64.b64encode(v.astype("<f4").tobytes()).decode("ascii") for v in p.embeddings],
                "thumbnails": list(p.thumbnails),
            }
            for p in people
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


def parse(data: bytes) -> list[Person]:
    """Read the file's bytes; ValueError/KeyError/TypeError for anything damaged, `DataError` for a newer format."""
    document = json.loads(data.decode("utf-8"))
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError("not a SpaceVoice people file")
    version = document.get("version")
    if not isinstance(version, int) or version < 1:
        raise ValueError("no format version")
    if version > VERSION:
        raise DataError(
            "The file of enrolled people was written by a newer version of SpaceVoice.",
            "Update SpaceVoice; the file has been left as it is.",
        )
    people = []
    for entry in document["people"]:
        name = check_name(entry["name"]) if isinstance(entry["name"], str) else None
        if name is None:
            raise TypeError("a name is not text")
        vectors = [np.frombuffer(base64.b64decode(text, validate=True), dtype="<f4") for text in entry["embeddings"]]
        if not vectors or any(v.shape != (DIMENSION,) or not np.all(np.isfinite(v)) for v in vectors):
            raise ValueError("an embedding is damaged")
        thumbnails = [str(t) for t in entry.get("thumbnails", []) if Path(str(t)).name == str(t)]
        people.append(Person(name, unit_rows(np.stack(vectors)), thumbnails, float(entry.get("added", 0.0))))
    return people


def unit_rows(embeddings: np.ndarray) -> np.ndarray:
    """Embeddings as float32 rows of unit length; ValueError for an empty one."""
    vectors = np.asarray(embeddings, dtype=np.float32).reshape(-1, DIMENSION)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if np.any(norms < 1e-6):
        raise ValueError("an embedding is empty")
    return vectors / norms


def set_aside(path: Path) -> Path:
    """Rename a damaged file to a name not yet used; it is never overwritten."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(1000):
        suffix = f".damaged-{stamp}" + (f"-{attempt}" if attempt else "")
        aside = path.with_name(path.name + suffix)
        if not aside.exists():
            try:
                os.link(path, aside)  # link + unlink: never replaces an existing file, unlike rename
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError:  # a file system without hard links; the name was checked to be free just above
                os.replace(path, aside)
            return aside
    raise DataError("The damaged people file could not be set aside.", f"Move {path} away by hand.")


@contextlib.contextmanager
def writer_lock(path: Path) -> Iterator[None]:
    """Hold the people file for one read-merge-write (POSIX advisory lock; waits for another writer).

    On Windows there is no such lock; the merge in `FaceGallery.save` still narrows the window to milliseconds.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_stale_temp_files(path: Path) -> None:
    """Delete temp files left by a writer that was killed mid-write (older than a minute)."""
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            if time.time() - leftover.stat().st_mtime > 60:
                leftover.unlink()


def count_people(number: int) -> str:
    """"1 person", "3 people"."""
    return "1 person" if number == 1 else f"{number} people"
