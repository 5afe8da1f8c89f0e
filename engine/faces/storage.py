"""The people file's format: reading and writing its bytes, checking names, setting a damaged file aside.

`engine.faces.gallery.FaceGallery` decides when to read and write; this module knows what the bytes are.
Format: ``{"format": "spacevoice-people", "version": 1, "embedder": ..., "people": [{"name", "added",
"embeddings": [base64 of 128 little-endian float32], "thumbnails": [file names]}]}``.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine import atomicfile
from engine.atomicfile import writer_lock
from engine.errors import DataError, InputError

__all__ = ["Person", "check_name", "count_people", "parse", "remove_stale_temp_files", "serialize", "set_aside",
           "unit_rows", "writer_lock"]

log = logging.getLogger(__name__)

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
    try:
        document = json.loads(data.decode("utf-8"))
    except RecursionError as error:  # nested thousands deep: no file SpaceVoice wrote
        raise ValueError("nested too deeply") from error
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
        if not isinstance(entry["name"], str):
            raise TypeError("a name is not text")
        try:
            name = check_name(entry["name"])
        except InputError as error:  # a name no one could have enrolled: the file is damaged
            raise ValueError("a name is damaged") from error
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
    """Rename a damaged file to a name not yet used (``people.json.damaged-STAMP``); it is never overwritten."""
    try:
        return atomicfile.set_aside(path, time.strftime("damaged-%Y%m%d-%H%M%S"))
    except OSError as error:
        raise DataError(
            f"The damaged people file could not be set aside ({error.strerror or error}).",
            f"Move {path} away by hand.",
        ) from error


def remove_stale_temp_files(path: Path, thumbnails: Path | None = None) -> None:
    """Delete temp files left by a writer that was killed mid-write: full copies of names and embeddings."""
    removed = atomicfile.remove_leftover_temp_files(path, folders=(thumbnails,) if thumbnails else ())
    if removed:
        log.info("removed %d temp file(s) left by an interrupted save", removed)


def count_people(number: int) -> str:
    """"1 person", "3 people"."""
    return "1 person" if number == 1 else f"{number} people"
