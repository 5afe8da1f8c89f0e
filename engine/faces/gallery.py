"""The enrolled people and their face embeddings: matching, and storage of the user's most personal data.

Storage: one JSON file (``people.json`` in the user data folder) with a format name and version, written
atomically and readable only by the user (`engine.atomicfile.write_atomic`). Before each write the previous
version is kept as ``people.json.bak``. A damaged file is set aside under a new name (never overwritten), the
backup is used and restored in its place, and the problem is reported in plain words (`FaceGallery.problem`).
Photos are kept only as optional 112x112 thumbnails. Removing a person erases their embeddings from the file and
the backup, and deletes their thumbnails. Names and embeddings are only ever logged at DEBUG.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine import paths
from engine.atomicfile import write_atomic
from engine.errors import DataError, InputError

log = logging.getLogger(__name__)

FORMAT = "spacevoice-people"
VERSION = 1
EMBEDDER = "sface-2021dec"
DIMENSION = 128
# Calibrated on the real photos in ../shared/testdata/faces (see docs/faces.md): augmented views of the same
# person scored 0.68-0.99 (5th percentile 0.83), different people at most 0.51 (two actresses who look alike).
MATCH_THRESHOLD = 0.55
MATCH_MARGIN = 0.10
MAX_NAME_LENGTH = 60


def people_file() -> Path:
    """The default people file."""
    return paths.data_dir() / "people.json"


@dataclass
class Person:
    """An enrolled person: a name, unit-length embeddings (K, 128), thumbnail file names, when added."""

    name: str
    embeddings: np.ndarray
    thumbnails: list[str] = field(default_factory=list)
    added: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Match:
    """The answer for one face: the name (``None``: someone I don't know), best score, runner-up score."""

    name: str | None
    score: float
    runner_up: float


def check_name(name: str) -> str:
    """A usable name, trimmed; `InputError` for an empty, over-long or control-character name."""
    cleaned = " ".join(str(name).split())
    if not cleaned:
        raise InputError("The name is empty.", "Give the person's name, for example: people add Mia photo.jpg")
    if len(cleaned) > MAX_NAME_LENGTH or any(not ch.isprintable() for ch in cleaned):
        raise InputError("That name cannot be used.", f"Use at most {MAX_NAME_LENGTH} ordinary characters.")
    return cleaned


class FaceGallery:
    """The enrolled people, loaded from and saved to one file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else people_file()
        self.people: list[Person] = []
        self.problem: str | None = None
        self.read_only = False  # set when the file could not be understood; it must not be overwritten
        self._erased: list[Person] = []
        self._scrub_backup = False

    @property
    def backup_path(self) -> Path:
        """The previous version of the file."""
        return self.path.with_name(self.path.name + ".bak")

    @property
    def thumbnails_dir(self) -> Path:
        """Where optional thumbnails are kept."""
        return self.path.parent / "people-thumbnails"

    @classmethod
    def load(cls, path: Path | None = None) -> FaceGallery:
        """Load the gallery. A damaged file is set aside and the backup used; `problem` says so in plain words.

        Raises `DataError` only for a file written by a newer SpaceVoice (it is left untouched).
        """
        gallery = cls(path)
        if not gallery.path.exists():
            return gallery
        try:
            gallery.people = parse(gallery.path.read_bytes())
            return gallery
        except DataError:
            raise
        except (OSError, ValueError, TypeError, KeyError) as error:
            log.debug("people file unreadable: %s", error)
        aside = _set_aside(gallery.path)
        try:
            backup = gallery.backup_path.read_bytes()
            gallery.people = parse(backup)
            write_atomic(gallery.path, backup)
            gallery.problem = (
                f"The file of enrolled people was damaged. It was set aside as {aside.name}, "
                f"and the previous copy ({_count(len(gallery.people))}) is used instead."
            )
        except (OSError, ValueError, TypeError, KeyError):
            gallery.problem = (
                f"The file of enrolled people was damaged. It was set aside as {aside.name}; "
                "no earlier copy could be read, so nobody is enrolled now. Enroll people again with: people add."
            )
        log.warning("%s", gallery.problem)
        return gallery

    def find(self, name: str) -> Person | None:
        """The person called ``name`` (ignoring case and extra spaces), or ``None``."""
        wanted = " ".join(name.split()).casefold()
        return next((p for p in self.people if p.name.casefold() == wanted), None)

    def names(self) -> list[str]:
        """Every enrolled name, in enrolment order."""
        return [p.name for p in self.people]

    def add(self, name: str, embeddings: np.ndarray, thumbnails: Sequence[np.ndarray] = ()) -> Person:
        """Add face embeddings (and optional RGB thumbnails) to ``name``, creating the person when new."""
        name = check_name(name)
        vectors = _unit_rows(embeddings)
        person = self.find(name)
        if person is None:
            person = Person(name, np.zeros((0, DIMENSION), np.float32))
            self.people.append(person)
        person.embeddings = np.concatenate([person.embeddings, vectors])
        for image in thumbnails:
            person.thumbnails.append(self._write_thumbnail(image))
        log.debug("added %d face(s) to %s", len(vectors), name)
        return person

    def remove(self, name: str) -> Person:
        """Forget ``name``: embeddings and thumbnails are erased at the next `save` (backup included)."""
        person = self._require(name)
        self.people.remove(person)
        self._erased.append(person)
        self._scrub_backup = True
        return person

    def rename(self, old: str, new: str) -> Person:
        """Rename a person; `InputError` when ``old`` is unknown or ``new`` is taken by someone else."""
        person = self._require(old)
        new = check_name(new)
        other = self.find(new)
        if other is not None and other is not person:
            raise InputError(f"{other.name} is already enrolled.", "Choose another name, or remove that person first.")
        person.name = new
        self._scrub_backup = True  # the old name must not survive in the backup
        return person

    def save(self) -> None:
        """Write the gallery atomically, keeping the previous version as the backup (0600, private)."""
        if self.read_only:
            raise DataError(self.problem or "The file of enrolled people cannot be changed.", "")
        data = serialize(self.people)
        _remove_stale_temp_files(self.path)
        if self._scrub_backup:
            # The old version still holds what was erased: the backup becomes the new version instead.
            write_atomic(self.backup_path, data)
        elif self.path.exists():
            with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
                previous = self.path.read_bytes()
                parse(previous)  # only a readable version is worth keeping as the backup
                write_atomic(self.backup_path, previous)
        write_atomic(self.path, data)
        for person in self._erased:
            for thumbnail in person.thumbnails:
                with contextlib.suppress(FileNotFoundError):
                    (self.thumbnails_dir / thumbnail).unlink()
        self._erased = []
        self._scrub_backup = False
        log.info("saved the people file (%s)", _count(len(self.people)))

    def match(self, embeddings: np.ndarray) -> list[Match]:
        """For each unit embedding (N, 128): the best person above the threshold and margin, else ``None``."""
        vectors = np.asarray(embeddings, dtype=np.float32).reshape(-1, DIMENSION)
        if not self.people or not len(vectors):
            return [Match(None, 0.0, 0.0) for _ in range(len(vectors))]
        scores = np.stack([(vectors @ p.embeddings.T).max(axis=1) for p in self.people], axis=1)  # (N, people)
        results = []
        for row in scores:
            order = np.argsort(-row)
            best = float(row[order[0]])
            second = float(row[order[1]]) if len(order) > 1 else 0.0
            sure = best >= MATCH_THRESHOLD and best - second >= MATCH_MARGIN
            results.append(Match(self.people[int(order[0])].name if sure else None, best, second))
        return results

    def _require(self, name: str) -> Person:
        person = self.find(name)
        if person is None:
            raise InputError("Nobody by that name is enrolled.", "See who is enrolled with: people list")
        return person

    def _write_thumbnail(self, image: np.ndarray) -> str:
        import cv2

        ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(image[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:
            raise InputError("The face could not be saved as a thumbnail.")
        name = f"{uuid.uuid4().hex}.jpg"
        write_atomic(self.thumbnails_dir / name, encoded.tobytes())
        return name


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
        people.append(Person(name, _unit_rows(np.stack(vectors)), thumbnails, float(entry.get("added", 0.0))))
    return people


def _unit_rows(embeddings: np.ndarray) -> np.ndarray:
    vectors = np.asarray(embeddings, dtype=np.float32).reshape(-1, DIMENSION)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if np.any(norms < 1e-6):
        raise ValueError("an embedding is empty")
    return vectors / norms


def _set_aside(path: Path) -> Path:
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


def _remove_stale_temp_files(path: Path) -> None:
    """Delete temp files left by a writer that was killed mid-write (older than a minute)."""
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            if time.time() - leftover.stat().st_mtime > 60:
                leftover.unlink()


def _count(number: int) -> str:
    return "1 person" if number == 1 else f"{number} people"
