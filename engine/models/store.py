"""The local model store: one folder per model, trusted only when its manifest says it is complete.

Layout: ``<models_dir>/<name>/`` holds the model's files (the Optimum export layout: files at the top, or under
``onnx/`` as Xenova does) and ``manifest.json``, written LAST and atomically, listing every file with its SHA-256
and size. A folder without a valid manifest is *partial* (a download that was cut, a crash mid-export): it is never
used, `verify` reports it, and the next download resumes it. `require` checks presence and sizes (cheap, every
load, with a re-hash of any file whose size or modification time changed since it was installed, against the
store's own record in `engine.models.index`); `verify` re-hashes everything (slow, on demand).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from engine import paths
from engine.atomicfile import fsync_dir, write_atomic
from engine.errors import ModelError
from engine.models.catalogue import TASKS, Catalogue
from engine.models.index import StoreIndex

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# Download bookkeeping inside a partial model folder: hashes of files already verified, so a resumed
# download keeps them without trusting unverified leftovers.
JOURNAL = ".download.json"
PART_SUFFIX = ".part"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class InstalledFile:
    """One file of an installed model, as its manifest records it."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class InstalledModel:
    """A complete model in the store: what its manifest says."""

    name: str
    folder: Path
    task: str
    source: str
    revision: str | None
    variant: str | None
    installed_at: str
    files: tuple[InstalledFile, ...]

    @property
    def size(self) -> int:
        """Bytes on disk of all its files."""
        return sum(f.size for f in self.files)


@dataclass
class VerifyReport:
    """What `ModelStore.verify` found: ``state`` is installed, partial, damaged or missing."""

    name: str
    state: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # not damage, but limits of what could be checked

    @property
    def ok(self) -> bool:
        """True when the model is complete and every file matches its manifest."""
        return self.state == "installed" and not self.problems


class ModelStore:
    """The folder of installed models (see the module docstring for its layout and guarantees)."""

    def __init__(self, root: Path, catalogue: Catalogue | None = None) -> None:
        self.root = Path(root)
        self._catalogue = catalogue
        self.index = StoreIndex(self.root)

    @classmethod
    def from_settings(cls, settings: Any = None, catalogue: Catalogue | None = None) -> ModelStore:
        """The store the user's settings point at (``models_dir``, else ``SPACEVOICE_MODELS``, else the data dir)."""
        setting = getattr(settings, "models_dir", "") if settings is not None else ""
        return cls(paths.models_dir(setting or None), catalogue)

    @property
    def catalogue(self) -> Catalogue:
        """The model catalogue, loaded on first use."""
        if self._catalogue is None:
            self._catalogue = Catalogue.load()
        return self._catalogue

    def folder(self, name: str) -> Path:
        """Where model ``name`` lives (whether or not it is there)."""
        if not name or name.startswith(".") or "/" in name or "\\" in name or name in ("..", "."):
            raise ModelError(f"{name!r} is not a valid model name.", "Use a name like vit-gpt2-image-captioning.")
        return self.root / name

    # -- reading ---------------------------------------------------------------------------------------------

    def manifest(self, name: str) -> InstalledModel | None:
        """The model's manifest, or ``None`` when it is missing or unreadable (the folder is then partial)."""
        folder = self.folder(name)
        try:
            data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            files = tuple(InstalledFile(str(f["path"]), str(f["sha256"]), int(f["size"])) for f in data["files"])
            return InstalledModel(name, folder, str(data["task"]), str(data.get("source", "")),
                                  data.get("revision"), data.get("variant"), str(data.get("installed_at", "")),
                                  files)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("model %s has an unreadable manifest (%s); treating it as partial", name, error)
            return None

    def state(self, name: str) -> str:
        """``installed`` (manifest valid), ``partial`` (a folder without a valid manifest) or ``missing``."""
        folder = self.folder(name)
        if not folder.is_dir():
            return "missing"
        return "installed" if self.manifest(name) is not None else "partial"

    def installed(self) -> list[InstalledModel]:
        """Every complete model in the store, by name."""
        if not self.root.is_dir():
            return []
        found = []
        for folder in sorted(self.root.iterdir()):
            if folder.is_dir() and not folder.name.startswith("."):
                model = self.manifest(folder.name)
                if model is not None:
                    found.append(model)
        return found

    def partial(self) -> list[str]:
        """Names of model folders that are not complete (cut downloads, interrupted exports)."""
        if not self.root.is_dir():
            return []
        return [f.name for f in sorted(self.root.iterdir())
                if f.is_dir() and not f.name.startswith(".") and self.manifest(f.name) is None]

    def require(self, name: str, task: str | None = None) -> Path:
        """The folder of an installed, complete model; a plain ModelError saying what to do otherwise.

        Checks that the manifest is valid, every file is present with its recorded size, and (with ``task``) that
        the model is of the kind the caller needs. Hashes are not recomputed here (see `verify`).
        """
        entry = self.catalogue.find(name)
        kind = TASKS.get(task or (entry.task if entry else ""), "model")
        fix = f"Run: main.py models download {name}" if entry else "Run: main.py models list"
        state = self.state(name)
        if state == "missing":
            raise ModelError(f"The {kind} {name} is not installed.", fix)
        model = self.manifest(name)
        if model is None:
            raise ModelError(f"The {kind} {name} is only partly downloaded or exported.",
                             f"{fix} to finish it, or: main.py models remove {name}")
        if task is not None and model.task != task:
            raise ModelError(f"{name} is a {TASKS.get(model.task, model.task)} ({model.task}), not a {kind}.",
                             f"Choose a {kind} in the settings; main.py models list shows them.")
        repair = f"{fix} to repair it." if entry else f"Export it again, or: main.py models remove {name}"
        for file in model.files:
            problem = _size_problem(model.folder / file.path, file)
            if problem:
                raise ModelError(f"The {kind} {name} is damaged: {problem}.", repair)
        problem = self._changed_since_install(model)
        if problem:
            raise ModelError(f"The {kind} {name} is damaged: {problem}.", repair)
        return model.folder

    def _changed_since_install(self, model: InstalledModel) -> str | None:
        """Compare each file with the store's record: unchanged size and time is trusted, anything else re-hashed.

        A model installed before the record existed is hashed once in full and then recorded.
        """
        record = self.index.files(model.name)
        for file in model.files:
            path = model.folder / file.path
            known = (record or {}).get(file.path) or {}
            stat = path.stat()
            if known.get("sha256") not in (None, file.sha256):
                return f"its manifest was changed after it was installed ({file.path})"
            if known.get("size") == stat.st_size and known.get("mtime_ns") == stat.st_mtime_ns:
                continue
            if sha256_file(path) != file.sha256:
                return f"{file.path} was changed after it was installed (its checksum does not match)"
            if record is not None and known:
                self.index.touch(model.name, file.path, stat)
        if record is None:
            self.index.record(model.name, model.folder, {f.path: f.sha256 for f in model.files})
        return None

    def verify(self, name: str) -> VerifyReport:
        """Re-hash every file of ``name`` against its manifest (and the catalogue's hash where one is known)."""
        state = self.state(name)
        if state != "installed":
            problems = [] if state == "missing" else ["no valid manifest: the download or export did not finish"]
            return VerifyReport(name, state, problems)
        model = self.manifest(name)
        assert model is not None
        entry = self.catalogue.find(name)
        # Catalogue hashes apply only to a download of the catalogued repo, not to a same-named export.
        pinned = {f.path: f.sha256 for f in entry.files if f.sha256} if entry and model.source == entry.repo else {}
        record = self.index.files(name)
        problems = []
        notes = []
        if record is None and not pinned:
            notes.append("no record of its checksums was kept when it was installed, so only its own manifest "
                         "vouches for it; download or export it again to have it checked")
        for file in model.files:
            target = model.folder / file.path
            recorded = (record or {}).get(file.path, {}).get("sha256") if record is not None else file.sha256
            if recorded != file.sha256:
                problems.append(f"{file.path}: the manifest was changed after the model was installed")
                continue
            problem = _size_problem(target, file)
            if problem is None:
                digest = sha256_file(target)
                if digest != file.sha256:
                    problem = f"{file.path} does not match its checksum"
                elif file.path in pinned and pinned[file.path] != digest:
                    problem = f"{file.path} is not the file the catalogue names"
            if problem:
                problems.append(problem)
        return VerifyReport(name, "damaged" if problems else "installed", problems, notes)

    # -- writing ---------------------------------------------------------------------------------------------

    def register(self, name: str, folder: Path, *, task: str, source: str, revision: str | None = None,
                 variant: str | None = None, hashes: dict[str, str] | None = None) -> InstalledModel:
        """Make ``folder`` the installed model ``name``: move it into the store if needed, then write its manifest.

        With ``hashes`` (from a verified download) the manifest lists exactly those files; without (an export),
        every file under the folder is listed and hashed. An installed model of the same name is replaced only
        after the new one is complete.
        """
        if task not in TASKS:
            raise ModelError(f"Unknown model task {task!r}.", f"Use one of: {', '.join(TASKS)}.")
        folder = Path(folder)
        target = self.folder(name)
        if folder.resolve() != target.resolve():
            target = self._move_into_store(folder, target)
        files = []
        if hashes is not None:  # a download: exactly the verified files that are there
            listed = sorted(target / p for p in hashes if (target / p).is_file())
        else:
            listed = sorted(_model_files(target))
        for path in listed:
            relative = path.relative_to(target).as_posix()
            digest = (hashes or {}).get(relative) or sha256_file(path)
            files.append({"path": relative, "sha256": digest, "size": path.stat().st_size})
        if not files:
            raise ModelError(f"The folder for {name} holds no model files.", "Export or download it again.")
        manifest = {"schema": 1, "name": name, "task": task, "source": source, "revision": revision,
                    "variant": variant, "installed_at": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
                    "files": files}
        # The manifest is written last and atomically: until it exists the folder counts as partial.
        write_atomic(target / MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"), private=False)
        with contextlib.suppress(FileNotFoundError):
            (target / JOURNAL).unlink()
        log.info("installed model %s (%d files) in %s", name, len(files), target)
        model = self.manifest(name)
        assert model is not None
        self.index.record(name, target, {f.path: f.sha256 for f in model.files})
        return model

    @contextlib.contextmanager
    def locked(self, name: str) -> Iterator[None]:
        """Hold model ``name`` for a download or removal; a plain ModelError if another process holds it."""
        try:
            import fcntl
        except ImportError:  # Windows: no advisory lock; the atomic renames still keep the store consistent
            yield
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f".{name}.lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise ModelError(f"{name} is busy: another SpaceVoice is downloading or removing it.",
                                 "Wait for it to finish, then try again.") from None
            yield

    def remove(self, name: str) -> bool:
        """Delete model ``name`` (complete or partial); False when there was nothing to delete."""
        folder = self.folder(name)
        if not folder.exists():
            return False
        with self.locked(name):
            self._delete(folder)
        self.index.forget(name)
        return True

    def _delete(self, folder: Path) -> None:
        # Drop the manifest first: if the deletion is interrupted the rest is only a partial folder.
        with contextlib.suppress(FileNotFoundError):
            (folder / MANIFEST).unlink()
        try:
            shutil.rmtree(folder)
        except OSError as error:
            raise ModelError(f"Could not delete {folder} ({error.strerror or error}).",
                             "Close programs using the model and try again.") from error

    def _move_into_store(self, folder: Path, target: Path) -> Path:
        if not folder.is_dir():
            raise ModelError(f"{folder} is not a folder.", "Give the folder the exporter wrote.")
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".incoming-{target.name}-{os.getpid()}"
        if staging.exists():
            shutil.rmtree(staging)
        # A move is a rename when the folder is already on the store's disk, else a copy.
        shutil.move(str(folder), str(staging))
        old = None
        if target.exists():
            old = self.root / f".old-{target.name}-{os.getpid()}"
            with contextlib.suppress(FileNotFoundError):
                (target / MANIFEST).unlink()
            os.replace(target, old)
        os.replace(staging, target)
        fsync_dir(self.root)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return target


def _model_files(folder: Path) -> Iterable[Path]:
    """The files that make up a model: everything except bookkeeping and unfinished downloads."""
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        name = path.name
        if path.parent == folder and name in (MANIFEST, JOURNAL):
            continue
        if name.endswith(PART_SUFFIX) or (name.startswith(".") and name.endswith(".tmp")):
            continue
        yield path


def _size_problem(path: Path, file: InstalledFile) -> str | None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return f"{file.path} is missing"
    except OSError as error:
        return f"{file.path} cannot be read ({error.strerror or error})"
    if size != file.size:
        return f"{file.path} has {size} bytes, not {file.size}"
    return None
