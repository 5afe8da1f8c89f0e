"""The enrolled people and their face embeddings: matching, and storage of the user's most personal data.

Storage: one JSON file (``people.json`` in the user data folder) with a format name and version, written
atomically and readable only by the user (`engine.atomicfile.write_atomic`). Before each write the previous
version is kept as ``people.json.bak``. A damaged file is set aside under a new name (never overwritten), the
backup is used and restored in its place, and the problem is reported in plain words (`FaceGallery.problem`).
Photos are kept only as optional 112x112 thumbnails. Removing a person erases their embeddings from the file and
the backup, and deletes their thumbnails. Names and embeddings are only ever logged at DEBUG.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import paths
from engine.atomicfile import write_atomic
from engine.errors import DataError, InputError, save_error
from engine.faces.storage import (
    DIMENSION,
    Person,
    check_name,
    count_people,
    parse,
    remove_stale_temp_files,
    serialize,
    set_aside,
    unit_rows,
    writer_lock,
)

log = logging.getLogger(__name__)

# Calibrated on the real photos in ../shared/testdata/faces (docs/faces.md, bench_faces.py --calibrate): altered
# views of the same person scored 0.81-0.99, different people at most 0.52 (two actresses who look alike); a
# wrong name is worse than "someone I don't know", so the threshold sits above every different-person score.
MATCH_THRESHOLD = 0.55
MATCH_MARGIN = 0.10


def people_file() -> Path:
    """The default people file."""
    return paths.data_dir() / "people.json"


@dataclass(frozen=True)
class Match:
    """The answer for one face: the name (``None``: someone I don't know), best score, runner-up score."""

    name: str | None
    score: float
    runner_up: float


class FaceGallery:
    """The enrolled people, loaded from and saved to one file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else people_file()
        self.people: list[Person] = []
        self.problem: str | None = None
        self.read_only = False  # set when the file could not be understood; it must not be overwritten
        self._erased: list[Person] = []
        self._pending_thumbnails: dict[str, np.ndarray] = {}  # written at save, so a failed enrolment leaves none
        self._scrub_backup = False
        self._dirty = False  # changed in memory since the last load or save
        # For merging with another program's save (see `save`): names as last read or written, names this
        # gallery added faces to, and names it removed or renamed away, all casefolded.
        self._known: set[str] = set()
        self._touched: set[str] = set()
        self._gone: set[str] = set()
        self._stamp: tuple[int, int] | None = None  # (mtime, size) of the file as last read or written

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
        remove_stale_temp_files(gallery.path, gallery.thumbnails_dir)  # left by a save that was killed
        gallery._read()
        return gallery

    def refresh(self) -> bool:
        """Reload when another program (``people add``, the tray's dialog) changed the file; True if it did.

        Costs one ``stat``. Unsaved changes in memory are never thrown away, and a file from a newer version is
        not re-read.
        """
        if self._dirty or self.read_only or self._file_stamp() == self._stamp:
            return False
        try:
            self._read()
        except DataError as error:
            self.problem = str(error)
            self.read_only = True
            return False
        log.info("the people file changed; reloaded it")
        return True

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def _read(self) -> None:
        self.people, self.problem = [], None
        self._known, self._touched, self._gone = set(), set(), set()
        self._stamp = self._file_stamp()
        if self._stamp is None:
            return
        try:
            data = self.path.read_bytes()
        except OSError as error:  # not damaged, only unreadable now (permissions, a folder): never set aside
            self._refuse(f"The file of enrolled people could not be read ({error.strerror or error}).",
                         f"It was left as it is; check that you may read {self.path}.")
            return
        try:
            self.people = parse(data)
            self._known = {p.name.casefold() for p in self.people}
            return
        except DataError:
            raise
        except (ValueError, TypeError, KeyError) as error:
            log.debug("people file damaged: %s", error)
        try:
            aside = set_aside(self.path)
        except DataError as error:  # a read-only folder: the damaged file stays where it is, unchanged
            self._refuse(str(error), "")
            return
        try:
            backup = self.backup_path.read_bytes()
            self.people = parse(backup)
            write_atomic(self.path, backup)
            self.problem = (
                f"The file of enrolled people was damaged. It was set aside as {aside.name}, "
                f"and the previous copy ({count_people(len(self.people))}) is used instead."
            )
        except (OSError, ValueError, TypeError, KeyError):
            self.people = []
            self.problem = (
                f"The file of enrolled people was damaged. It was set aside as {aside.name}; "
                "no earlier copy could be read, so nobody is enrolled now. Enroll people again with: people add."
            )
        self._stamp = self._file_stamp()
        self._known = {p.name.casefold() for p in self.people}
        log.warning("%s", self.problem)

    def _refuse(self, problem: str, hint: str) -> None:
        """Work with nobody enrolled and never write the file: it holds people this gallery could not read."""
        self.people, self.read_only = [], True
        self.problem = f"{problem} {hint}".strip()
        log.warning("%s", self.problem)

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
        vectors = unit_rows(embeddings)
        person = self.find(name)
        if person is None:
            person = Person(name, np.zeros((0, DIMENSION), np.float32))
            self.people.append(person)
        person.embeddings = np.concatenate([person.embeddings, vectors])
        self._dirty = True
        self._touched.add(name.casefold())
        self._gone.discard(name.casefold())
        for image in thumbnails:
            file_name = f"{uuid.uuid4().hex}.jpg"
            self._pending_thumbnails[file_name] = np.ascontiguousarray(image)
            person.thumbnails.append(file_name)
        log.debug("added %d face(s) to %s", len(vectors), name)
        return person

    def remove(self, name: str) -> Person:
        """Forget ``name``: embeddings and thumbnails are erased at the next `save` (backup included)."""
        person = self._require(name)
        self.people.remove(person)
        self._erased.append(person)
        self._scrub_backup = self._dirty = True
        self._gone.add(person.name.casefold())
        self._touched.discard(person.name.casefold())
        return person

    def rename(self, old: str, new: str) -> Person:
        """Rename a person; `InputError` when ``old`` is unknown or ``new`` is taken by someone else."""
        person = self._require(old)
        new = check_name(new)
        other = self.find(new)
        if other is not None and other is not person:
            raise InputError(f"{other.name} is already enrolled.", "Choose another name, or remove that person first.")
        if person.name.casefold() != new.casefold():
            self._gone.add(person.name.casefold())
        person.name = new
        self._touched.add(new.casefold())
        self._scrub_backup = self._dirty = True  # the old name must not survive in the backup
        return person

    def save(self) -> None:
        """Write the gallery atomically, keeping the previous version as the backup (0600, private)."""
        if self.read_only:
            raise DataError(self.problem or "The file of enrolled people cannot be changed.", "")
        written: list[str] = []
        try:
            with writer_lock(self.path):
                self._save_locked(written)
        except OSError as error:
            for file_name in written:  # thumbnails of a save that did not happen
                with contextlib.suppress(OSError):
                    (self.thumbnails_dir / file_name).unlink()
            raise save_error(self.path, error) from error

    def _save_locked(self, written: list[str]) -> None:
        if self._stamp != self._file_stamp():
            self._merge_from_disk()  # another program saved since this gallery read the file
        data = serialize(self.people)
        remove_stale_temp_files(self.path, self.thumbnails_dir)
        kept = {name for person in self.people for name in person.thumbnails}
        for file_name, image in self._pending_thumbnails.items():
            if file_name in kept:
                self._write_thumbnail(file_name, image)
                written.append(file_name)
        if self._scrub_backup:
            # The old version still holds what was erased: the backup becomes the new version instead.
            write_atomic(self.backup_path, data)
        elif self.path.exists():
            with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
                previous = self.path.read_bytes()
                parse(previous)  # only a readable version is worth keeping as the backup
                write_atomic(self.backup_path, previous)
        write_atomic(self.path, data)
        self._pending_thumbnails = {}
        for person in self._erased:
            for thumbnail in person.thumbnails:
                with contextlib.suppress(FileNotFoundError):
                    (self.thumbnails_dir / thumbnail).unlink()
        self._erased = []
        self._scrub_backup = self._dirty = False
        self._stamp = self._file_stamp()
        self._known = {p.name.casefold() for p in self.people}
        self._touched, self._gone = set(), set()
        log.info("saved the people file (%s)", count_people(len(self.people)))

    def _merge_from_disk(self) -> None:
        """Fold another program's save into this one: its additions, removals and renames are kept, and so are
        this gallery's own. A damaged file on disk is set aside first (never overwritten)."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()  # unreadable now: the save fails and the file stays as it is
        try:
            theirs = parse(data)
        except (ValueError, TypeError, KeyError):
            log.warning("the people file was damaged by another program; set aside as %s", set_aside(self.path).name)
            return
        ours = {p.name.casefold(): p for p in self.people}
        on_disk = {p.name.casefold() for p in theirs}
        merged: list[Person] = []
        for person in theirs:  # the file's order first: enrolment order stays stable
            key = person.name.casefold()
            if key in self._gone:
                continue
            mine = ours.get(key)
            if mine is None:
                merged.append(person)
                continue
            new_rows = [row for row in person.embeddings if not np.any(np.all(np.isclose(mine.embeddings, row), 1))]
            if new_rows:
                mine.embeddings = np.concatenate([mine.embeddings, np.stack(new_rows)])
            mine.thumbnails += [t for t in person.thumbnails if t not in mine.thumbnails]
            merged.append(mine)
        # Ours that the file lacks: new here (kept), or only read here and since removed or renamed there (dropped).
        merged += [p for p in self.people if (key := p.name.casefold()) not in on_disk
                   and (key not in self._known or key in self._touched)]
        self.people = merged
        log.info("merged the people file saved meanwhile by another program")

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

    def _write_thumbnail(self, file_name: str, image: np.ndarray) -> None:
        import cv2

        ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(image[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:
            raise InputError("The face could not be saved as a thumbnail.")
        write_atomic(self.thumbnails_dir / file_name, encoded.tobytes())
