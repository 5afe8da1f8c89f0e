"""Verified, resumable model downloads into the store.

Each file goes to ``<file>.part``, resumes with an HTTP Range request after a cut connection (in the same run, or
the next), is checked against its SHA-256 and only then renamed into place. The SHA-256 comes from the catalogue;
where the catalogue has none, from the hub's own metadata: Hugging Face sends an LFS file's SHA-256 in the
``X-Linked-Etag`` header of the resolve request (on the redirect, which is why redirects are recorded here) and a
small file's git blob SHA-1 in its ``ETag``. A file that cannot be verified at all is refused. A bad file is deleted,
never used. The model's manifest is written last (engine.models.store), so a cut download is only ever *partial*.

Only urllib is used: no new dependency, and ``SPACEVOICE_MODEL_MIRROR`` points everything at another server.

Every transfer is bounded: a server that sends less than ``STALL_BYTES`` in ``stall_timeout`` seconds (a trickle, or
silence) is a stall and the transfer is retried; a download that has made no progress for ``deadline`` seconds, over
all its retries, gives up (so a server that never answers fails in about ``deadline`` seconds, while a slow link that
keeps moving can take as long as it needs); and no file is ever written past the size it should have (the
catalogue's, the hub's, or the response's), or past ``MAX_UNKNOWN_SIZE`` when nobody says how big it is.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import json
import logging
import os
import re
import shutil
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from engine.atomicfile import fsync_dir, write_atomic
from engine.errors import ModelError
from engine.models.catalogue import CatalogueEntry, ModelFile
from engine.models.store import JOURNAL, PART_SUFFIX, InstalledModel, ModelStore, sha256_file

log = logging.getLogger(__name__)

_CHUNK = 256 * 1024
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_HUB_HEADERS = ("X-Linked-Etag", "X-Linked-Size", "X-Repo-Commit", "ETag")
# Less than this many bytes in one stall window is a stall (a server trickling a byte every few seconds).
STALL_BYTES = 4096
# The most a file of unknown size may grow to: the largest model file SpaceVoice knows is about 6.5 GB.
MAX_UNKNOWN_SIZE = 8 << 30


class DownloadError(ModelError):
    """A model download failed; the message says why in plain words and what to do."""


class NotFoundError(DownloadError):
    """The server does not have the file (HTTP 404)."""


class Progress(Protocol):
    """Receives download progress (the command line draws a bar; the tray app shows a dialog)."""

    def start(self, label: str, total: int | None, done: int = 0) -> None:
        """A file starts (or resumes at ``done`` bytes)."""

    def update(self, done: int) -> None:
        """``done`` bytes of the current file are on disk."""

    def finish(self) -> None:
        """The current file is complete and verified."""


@dataclass(frozen=True)
class FetchedFile:
    """A verified file: its SHA-256, size, and the hub commit it came from when the hub said so."""

    sha256: str
    size: int
    commit: str | None


class _Silent:
    """No progress display (the engine prints nothing; the command line passes its bar)."""

    def start(self, label: str, total: int | None, done: int = 0) -> None:
        """Ignore."""

    def update(self, done: int) -> None:
        """Ignore."""

    def finish(self) -> None:
        """Ignore."""


class _Retry(Exception):
    """A transient failure (cut connection, timeout, server error): resume and try again."""


class _Stalled(_Retry):
    """Too little arrived in a stall window: retried, but the bytes it brought do not count as progress."""


@dataclass(frozen=True)
class _Limits:
    """How long and how often a download may try: see the module docstring."""

    retries: int
    timeout: float
    deadline: float


def download_model(store: ModelStore, name: str, *, variant: str | None = None, progress: Progress | None = None,
                   mirror: str | None = None, retries: int = 4, timeout: float = 20.0,
                   deadline: float = 60.0) -> InstalledModel:
    """Download catalogued model ``name`` (its ``variant``, default the catalogue's) into ``store``; return it.

    Already-verified files are kept, ``.part`` files resumed; the manifest is written when every file checks out.
    """
    entry = store.catalogue.get(name)
    wanted = entry.files_for(variant)
    chosen = variant or entry.default_variant
    existing = store.manifest(name)
    if existing is not None and existing.source != entry.repo:
        raise ModelError(f"{name} is already installed from {existing.source}, not from {entry.repo}.",
                         f"Remove it first: main.py models remove {name}")
    if existing is not None:
        have = {f.path for f in existing.files}
        if all(f.path in have for f in wanted):
            if store.verify(name).ok:
                return existing
            log.info("model %s is damaged; repairing it", name)  # good files are kept, bad ones fetched again
    folder = store.folder(name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _write_error(error, folder) from error
    with store.locked(name):  # inside it only: never clean up a folder another download is filling
        try:
            limits = _Limits(retries, timeout, deadline)
            return _download_files(store, entry, folder, wanted, chosen, existing, progress, mirror, limits)
        except BaseException:
            # A failure before any byte arrived leaves no folder behind: "partial" should mean resumable work.
            if not any(p.is_file() and p.name != JOURNAL for p in folder.rglob("*")):
                shutil.rmtree(folder, ignore_errors=True)
            raise


def _download_files(store: ModelStore, entry: CatalogueEntry, folder: Path, wanted: tuple[ModelFile, ...],
                    chosen: str | None, existing: InstalledModel | None, progress: Progress | None,
                    mirror: str | None, limits: _Limits) -> InstalledModel:
    name = entry.name
    journal = _read_journal(folder)
    if existing is not None:
        # Adding a variant: keep the verified files of the installed one, then drop its manifest so the
        # folder is partial until the new set is complete.
        journal["files"].update({f.path: f.sha256 for f in existing.files})
        journal.setdefault("revision", existing.revision)
        _write_journal(folder, journal)
        with contextlib.suppress(FileNotFoundError):
            (folder / "manifest.json").unlink()
    _check_free_space(entry, wanted, folder, journal)
    revision = journal.get("revision") or entry.revision
    for file in wanted:
        final = folder / file.path
        known = file.sha256 or journal["files"].get(file.path)
        if final.exists() and known and (file.size is None or final.stat().st_size == file.size) \
                and sha256_file(final) == known:
            journal["files"][file.path] = known
            continue
        with contextlib.suppress(FileNotFoundError):
            final.unlink()  # an unverified leftover is never trusted
        url = entry.file_url(file.path, revision=revision, mirror=mirror)
        try:
            fetched = fetch_file(url, final, sha256=file.sha256, size=file.size, progress=progress,
                                 label=f"{name}/{file.path}", retries=limits.retries, timeout=limits.timeout,
                                 deadline=limits.deadline)
        except NotFoundError:
            if not file.optional:
                raise
            log.info("optional file %s of %s is not on the server; skipped", file.path, name)
            continue
        if fetched.commit and not _HEX40.match(revision):
            revision = fetched.commit  # pin the rest of the files to the commit the first one came from
        journal["files"][file.path] = fetched.sha256
        journal["revision"] = revision
        _write_journal(folder, journal)
    variants = ",".join(sorted({f.variant for f in entry.files if f.variant and f.path in journal["files"]}))
    return store.register(name, folder, task=entry.task, source=entry.repo, revision=revision,
                          variant=variants or chosen, hashes=dict(journal["files"]))


def fetch_file(url: str, final: Path, *, sha256: str | None = None, size: int | None = None,
               progress: Progress | None = None, label: str | None = None, retries: int = 4,
               timeout: float = 20.0, deadline: float = 60.0) -> FetchedFile:
    """Download ``url`` to ``final`` via ``final.part``: resumed, verified, renamed atomically.

    ``timeout`` is the stall window (and the wait for an answer); ``deadline`` the longest time without progress
    over all attempts (see the module docstring).
    """
    final = Path(final)
    part = final.with_name(final.name + PART_SUFFIX)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _write_error(error, final.parent) from error
    progress = progress or _Silent()
    label = label or final.name
    headers: dict[str, str] = {}
    failures = 0
    fresh_retry_done = False
    last_progress = time.monotonic()
    while True:
        resumed = part.exists() and part.stat().st_size > 0
        before = part.stat().st_size if part.exists() else 0
        wait = min(timeout, max(0.5, deadline - (time.monotonic() - last_progress)))
        try:
            _transfer(url, part, size, headers, progress, label, wait)
        except _Retry as error:
            failures += 1
            if part.exists() and part.stat().st_size > before and not isinstance(error, _Stalled):
                last_progress = time.monotonic()
            log.info("download of %s interrupted (%s); attempt %d of %d", label, error, failures, retries + 1)
            idle = time.monotonic() - last_progress
            if failures > retries or idle >= deadline:
                stalled = f"no progress for {idle:.0f} seconds" if idle >= deadline else str(error)
                raise DownloadError(f"The download of {label} from {_host(url)} kept failing ({stalled}).",
                                    "Check your network and run the same command again: it resumes.") from None
            time.sleep(min(0.2 * 2 ** failures, 5.0, max(0.0, deadline - idle)))
            continue
        try:
            fetched = _verify_and_place(part, final, sha256, size, headers, label)
        except DownloadError:
            # A resumed file may have a stale prefix (the file changed upstream): start over once.
            if resumed and not fresh_retry_done:
                fresh_retry_done = True
                headers.clear()
                continue
            raise
        progress.finish()
        return fetched


def _transfer(url: str, part: Path, size: int | None, hub: dict[str, str], progress: Progress, label: str,
              timeout: float) -> None:
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    # identity: the bytes on the wire are the file's bytes, so sizes, Range offsets and hashes all agree.
    request = urllib.request.Request(url, headers={"User-Agent": "SpaceVoice-model-download/1",
                                                   "Accept-Encoding": "identity"})
    token = os.environ.get("HF_TOKEN")
    if token and urllib.parse.urlparse(url).hostname == "huggingface.co":
        request.add_header("Authorization", f"Bearer {token}")
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    redirects = _RecordingRedirects()
    opener = urllib.request.build_opener(redirects)
    try:
        response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        _remember(hub, redirects.seen, error.headers)
        if error.code == 416 and offset and _complete_size(hub, error.headers, offset) == offset:
            return  # the .part already holds the whole file
        if error.code == 416:
            part.unlink()
            raise _Retry("the partial file did not fit the server's copy") from None
        raise _http_error(error, url, label) from None
    except (urllib.error.URLError, OSError) as error:
        raise _network_error(error, url, label) from None
    with response:
        _remember(hub, redirects.seen, response.headers)
        status = response.status
        mode = "ab"
        if status == 206:
            start = _content_range_start(response.headers.get("Content-Range", ""))
            if start != offset:
                mode, offset = "wb", 0
                if start != 0:
                    raise _Retry("the server resumed at the wrong place")
        elif offset:
            mode, offset = "wb", 0  # the server ignored the Range request: start over
        total = _complete_size(hub, response.headers, offset)
        progress.start(label, total, offset)
        limit = size if size is not None else (total if total is not None else MAX_UNKNOWN_SIZE)
        try:
            with open(part, mode) as handle:
                done = _copy_bounded(response, handle, offset, limit, progress, label, timeout)
                handle.flush()
                os.fsync(handle.fileno())
        except DownloadError:
            part.unlink(missing_ok=True)  # never keep bytes past what the file should hold
            raise
        except OSError as error:
            raise _write_error(error, part.parent) from error
        if total is not None and done < total:
            raise _Retry(f"connection closed after {done} of {total} bytes")


def _copy_bounded(response: Any, handle: Any, done: int, limit: int, progress: Progress, label: str,
                  window: float) -> int:
    """Copy the body to ``handle`` until it ends; a stall is a `_Retry`, a body past ``limit`` bytes an error.

    ``read1`` returns what one receive brought, so a trickle cannot hold a read open for ever; the socket's own
    timeout (``window``) ends a silent one.
    """
    window_start, window_bytes = time.monotonic(), 0
    while True:
        try:
            chunk = response.read1(_CHUNK)
        except (http.client.HTTPException, OSError) as error:  # cut, reset, timeout, TLS failure
            raise _Retry(f"connection cut after {done} bytes: {type(error).__name__}") from None
        if not chunk:
            return done
        if done + len(chunk) > limit:
            raise DownloadError(f"The server sent more than the {limit} bytes {label} should have; "
                                "the download was stopped and the partial file deleted.",
                                "The server or mirror is not serving this model correctly; try again later.")
        handle.write(chunk)
        done += len(chunk)
        window_bytes += len(chunk)
        progress.update(done)
        now = time.monotonic()
        if now - window_start >= window:
            if window_bytes < STALL_BYTES:
                raise _Stalled(f"the server stalled ({window_bytes} bytes in {now - window_start:.0f} s)")
            window_start, window_bytes = now, 0


def _verify_and_place(part: Path, final: Path, sha256: str | None, size: int | None, hub: dict[str, str],
                      label: str) -> FetchedFile:
    actual = part.stat().st_size
    hub_sha256, hub_sha1 = _hub_digests(hub)
    expected_size = size if size is not None else _int(hub.get("X-Linked-Size"))
    digest = sha256_file(part)
    reference = sha256 or hub_sha256
    problem: str | None
    if expected_size is not None and actual != expected_size:
        problem = f"it has {actual} bytes instead of {expected_size}"
    elif reference is not None:
        problem = None if digest == reference else "its SHA-256 checksum does not match"
    elif hub_sha1 is not None:
        problem = None if _git_blob_sha1(part, actual) == hub_sha1 else "its checksum does not match"
    else:
        part.unlink()
        raise DownloadError(f"{label} cannot be verified: the server sent no checksum for it.",
                            "Use the official hub or a mirror that serves Hugging Face's checksum headers.")
    if problem:
        part.unlink()  # never keep, never use a bad file
        raise DownloadError(f"The download of {label} is corrupted: {problem}. The bad file was deleted.",
                            "Run the same command again; if it keeps failing, the mirror or network is altering it.")
    os.replace(part, final)
    fsync_dir(final.parent)
    commit = hub.get("X-Repo-Commit")
    return FetchedFile(digest, actual, commit if commit and _HEX40.match(commit) else None)


class _RecordingRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects, keeping the hub's checksum headers, which only the first (redirect) response carries."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        for key in _HUB_HEADERS:
            if headers.get(key) and key not in self.seen:
                self.seen[key] = headers[key]
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlparse(newurl).hostname != urllib.parse.urlparse(req.full_url).hostname:
            new.remove_header("Authorization")  # a token for the hub must not travel to a CDN
        return new


def _remember(hub: dict[str, str], *sources: Any) -> None:
    """Keep the first value of each hub header: the hub's own (on the redirect) wins over a CDN's."""
    for source in sources:
        for key in _HUB_HEADERS:
            value = source.get(key) if source is not None else None
            if value and key not in hub:
                hub[key] = value


def _hub_digests(hub: dict[str, str]) -> tuple[str | None, str | None]:
    linked = _clean_etag(hub.get("X-Linked-Etag", ""))
    etag = _clean_etag(hub.get("ETag", ""))
    sha256 = linked if _HEX64.match(linked) else (etag if _HEX64.match(etag) else None)
    sha1 = etag if _HEX40.match(etag) and not linked else None
    return sha256, sha1


def _clean_etag(value: str) -> str:
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"').lower()


def _git_blob_sha1(path: Path, size: int) -> str:
    digest = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _complete_size(hub: dict[str, str], headers: Any, offset: int) -> int | None:
    """The whole file's size: from Content-Range (206, 416), a full response's length, or the hub's header."""
    content_range = headers.get("Content-Range", "") if headers is not None else ""
    if "/" in content_range and not content_range.endswith("/*"):
        return _int(content_range.rsplit("/", 1)[1])
    if not content_range and offset == 0 and headers is not None and headers.get("Content-Length") is not None:
        return _int(headers.get("Content-Length"))
    return _int(hub.get("X-Linked-Size"))


def _content_range_start(value: str) -> int | None:
    match = re.match(r"bytes (\d+)-", value)
    return int(match.group(1)) if match else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _host(url: str) -> str:
    return urllib.parse.urlparse(url).netloc or url


def _http_error(error: urllib.error.HTTPError, url: str, label: str) -> Exception:
    if error.code in (429, 500, 502, 503, 504):
        return _Retry(f"the server answered HTTP {error.code}")
    if error.code == 404:
        return NotFoundError(f"{label} was not found at {_host(url)} (HTTP 404).",
                             "The catalogue may be out of date, or the mirror lacks this file.")
    if error.code in (401, 403):
        return DownloadError(f"{_host(url)} refused {label} (HTTP {error.code}): the model may need a login.",
                             "Accept its licence on huggingface.co and set HF_TOKEN to your access token.")
    return DownloadError(f"{_host(url)} answered HTTP {error.code} for {label}.", "Try again later.")


def _network_error(error: BaseException, url: str, label: str) -> Exception:
    reason = getattr(error, "reason", error)
    if isinstance(reason, (TimeoutError, socket.timeout, ConnectionResetError, http.client.RemoteDisconnected)):
        return _Retry(f"{type(reason).__name__}")
    host = urllib.parse.urlparse(url).hostname or _host(url)
    if isinstance(reason, socket.gaierror):
        what = f"No internet connection: the address {host} could not be looked up"
    elif isinstance(reason, ConnectionRefusedError):
        what = f"{host} refused the connection"
    elif isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        what = f"No internet connection: {host} cannot be reached"
    elif "CERTIFICATE" in str(reason).upper():
        what = f"{host} did not prove who it is (its security certificate was not accepted)"
    else:
        what = f"Could not reach {host} ({getattr(reason, 'strerror', None) or type(reason).__name__})"
    log.info("download of %s failed: %s", label, reason)
    return DownloadError(f"{what}, so {label} was not downloaded.",
                         "Check your internet connection and run the same command again; a download resumes "
                         "where it stopped.")


def _write_error(error: OSError, folder: Path) -> ModelError:
    if error.errno == errno.ENOSPC:
        return DownloadError(f"The disk is full: {folder} has no room for the model.",
                             "Free some space, or move the model store with SPACEVOICE_MODELS or the "
                             "models_dir setting, then run the same command again: it resumes.")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return DownloadError(f"Permission denied: SpaceVoice cannot write to {folder}.",
                             "Choose a folder you can write to with SPACEVOICE_MODELS or the models_dir setting.")
    return DownloadError(f"Cannot write the model to {folder} ({error.strerror or error}).",
                         "Check the disk, then run the same command again.")


def _check_free_space(entry: CatalogueEntry, wanted: Any, folder: Path, journal: dict[str, Any]) -> None:
    needed = sum(f.size for f in wanted if f.size is not None and f.path not in journal["files"])
    needed -= sum((folder / (f.path + PART_SUFFIX)).stat().st_size for f in wanted
                  if (folder / (f.path + PART_SUFFIX)).exists())
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise DownloadError(
            f"The disk is full: {entry.name} needs {needed / 1e6:.0f} MB more, {folder} has {free / 1e6:.0f} MB free.",
            "Free some space, or move the model store with SPACEVOICE_MODELS or the models_dir setting.")


def _read_journal(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / JOURNAL).read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("files"), dict):
            return data
    except (OSError, ValueError):
        pass
    return {"files": {}}


def _write_journal(folder: Path, journal: dict[str, Any]) -> None:
    write_atomic(folder / JOURNAL, json.dumps(journal).encode("utf-8"), private=False)
