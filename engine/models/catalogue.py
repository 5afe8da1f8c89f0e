"""The model catalogue: which models SpaceVoice knows how to download, from where, and how to check them.

The catalogue is a JSON file shipped in ``resources/models.json`` (``SPACEVOICE_CATALOGUE`` points elsewhere, for
tests and for organisations with their own mirror). Each entry names an upstream repository and a pinned revision,
and lists its files with SHA-256 and size where known; an unknown hash is ``null`` and is then checked against the
hub's own metadata at download time (see engine.models.download).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import paths
from engine.errors import ModelError

# The tasks a model can serve, and how a person would call such a model in a message.
TASKS: dict[str, str] = {
    "image-to-text": "scene model",
    "face-detection": "face detector",
    "face-recognition": "face recogniser",
    "tts-llm": "voice model",
    "audio-codec": "voice decoder",
    "tts-voice": "Piper voice",
    "vlm": "vision-language model",
}

# A mirror serves every file at MIRROR/<repo>/resolve/<revision>/<path>, the Hugging Face layout.
MIRROR_TEMPLATE = "{mirror}/{repo}/resolve/{revision}/{path}"


@dataclass(frozen=True)
class ModelFile:
    """One file of a catalogued model: its path inside the model folder, and its hash and size when known."""

    path: str
    sha256: str | None = None
    size: int | None = None
    variant: str | None = None
    optional: bool = False  # upstream may not have it at this revision: a 404 is skipped, not an error


@dataclass(frozen=True)
class CatalogueEntry:
    """One downloadable model: where it comes from (repo + pinned revision), its files, licence and purpose."""

    name: str
    task: str
    repo: str
    revision: str
    url: str
    licence: str
    description: str
    files: tuple[ModelFile, ...]
    default_variant: str | None = None

    @property
    def kind(self) -> str:
        """How a person calls this kind of model ("scene model", "voice model", ...)."""
        return TASKS.get(self.task, "model")

    def variants(self) -> tuple[str, ...]:
        """The variants this model comes in (e.g. ``int8``, ``fp32``), in catalogue order."""
        return tuple(dict.fromkeys(f.variant for f in self.files if f.variant))

    def files_for(self, variant: str | None = None) -> tuple[ModelFile, ...]:
        """The files a download of ``variant`` needs (shared files plus that variant's; ``"all"`` for every one)."""
        variant = variant or self.default_variant
        if variant == "all" or not self.variants():
            return self.files
        if variant not in self.variants():
            raise ModelError(
                f"The {self.kind} {self.name} has no variant {variant!r}.",
                f"Choose one of: {', '.join((*self.variants(), 'all'))}.",
            )
        return tuple(f for f in self.files if f.variant in (None, variant))

    def file_url(self, path: str, *, revision: str | None = None, mirror: str | None = None) -> str:
        """The address of one file; ``mirror`` (or ``SPACEVOICE_MODEL_MIRROR``) replaces the upstream host."""
        mirror = mirror if mirror is not None else os.environ.get("SPACEVOICE_MODEL_MIRROR", "")
        template = MIRROR_TEMPLATE if mirror else self.url
        return template.format(mirror=mirror.rstrip("/"), repo=self.repo, revision=revision or self.revision,
                               path=path)

    def known_size(self, variant: str | None = None) -> int | None:
        """Total bytes of a download when every file's size is known, else ``None``."""
        sizes = [f.size for f in self.files_for(variant)]
        return None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)

    def size_hint(self, variant: str | None = None) -> str:
        """The download size for people: "246 MB", "at least 246 MB" (small files unknown), or "unknown size"."""
        sizes = [f.size for f in self.files_for(variant)]
        known = sum(s for s in sizes if s is not None)
        if not known:
            return "unknown size"
        text = f"{known / 1e9:.1f} GB" if known >= 1e9 else f"{known / 1e6:.1f} MB"
        return text if None not in sizes else f"at least {text}"


class Catalogue:
    """The catalogued models, by name."""

    def __init__(self, entries: list[CatalogueEntry], source: Path | None = None) -> None:
        self.source = source
        self._entries = {e.name: e for e in entries}

    @classmethod
    def load(cls, path: Path | None = None) -> Catalogue:
        """Read the catalogue (default: ``SPACEVOICE_CATALOGUE`` or the shipped resources/models.json)."""
        if path is None:
            override = os.environ.get("SPACEVOICE_CATALOGUE")
            path = Path(override) if override else paths.resources_dir() / "models.json"
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            entries = [_entry(raw) for raw in data["models"]]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ModelError(
                f"The model catalogue {path} cannot be read ({error}).",
                "Reinstall SpaceVoice, or unset SPACEVOICE_CATALOGUE.",
            ) from error
        return cls(entries, Path(path))

    def get(self, name: str) -> CatalogueEntry:
        """The entry called ``name``; a plain ModelError naming the known models otherwise."""
        entry = self._entries.get(name)
        if entry is None:
            raise ModelError(
                f"There is no model called {name!r} in the catalogue.",
                f"Known models: {', '.join(self._entries)}. Run: main.py models list",
            )
        return entry

    def find(self, name: str) -> CatalogueEntry | None:
        """The entry called ``name``, or ``None``."""
        return self._entries.get(name)

    def __iter__(self) -> Iterator[CatalogueEntry]:
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries


def _entry(raw: dict[str, Any]) -> CatalogueEntry:
    task = str(raw["task"])
    if task not in TASKS:
        raise ValueError(f"model {raw.get('name')!r} has unknown task {task!r}")
    files = tuple(
        ModelFile(
            path=_safe_path(str(f["path"])),
            sha256=(str(f["sha256"]).lower() if f.get("sha256") else None),
            size=(int(f["size"]) if f.get("size") is not None else None),
            variant=f.get("variant"),
            optional=bool(f.get("optional", False)),
        )
        for f in raw["files"]
    )
    if not files:
        raise ValueError(f"model {raw['name']!r} lists no files")
    return CatalogueEntry(
        name=str(raw["name"]),
        task=task,
        repo=str(raw["repo"]),
        revision=str(raw["revision"]),
        url=str(raw["url"]),
        licence=str(raw.get("licence", "unknown")),
        description=str(raw.get("description", "")),
        files=files,
        default_variant=raw.get("default_variant"),
    )


def _safe_path(path: str) -> str:
    """Refuse paths that would escape the model folder (a damaged or hostile catalogue)."""
    parts = Path(path).parts
    if not parts or Path(path).is_absolute() or ".." in parts or "\\" in path:
        raise ValueError(f"unsafe file path {path!r}")
    return Path(path).as_posix()
