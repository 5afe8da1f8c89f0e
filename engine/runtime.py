"""The one place that creates onnxruntime sessions.

Providers are chosen from the most capable down to the CPU (CUDA, then DirectML, then CPU), filtered by what the
installed onnxruntime offers, and can be forced with the ``device`` setting (``auto``, ``cuda``, ``directml``,
``cpu``) or ``SPACEVOICE_DEVICE``. If a GPU session fails to build, the CPU is used and one warning is logged.
The providers actually in use are logged and reported by `providers_in_use`.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import DeviceError, ModelError
from engine.privacy import import_onnxruntime

if TYPE_CHECKING:
    import onnxruntime as ort

log = logging.getLogger(__name__)

_PREFERENCE = {
    "cuda": ["CUDAExecutionProvider"],
    "directml": ["DmlExecutionProvider"],
    "cpu": [],
}
_AUTO_ORDER = ["CUDAExecutionProvider", "DmlExecutionProvider"]
DEVICES = ("auto", *_PREFERENCE)  # the values the ``device`` setting may take


@dataclass(frozen=True)
class SessionReport:
    """What a session runs on: the model file, the providers asked for, the providers in use."""

    model: str
    requested: tuple[str, ...]
    in_use: tuple[str, ...]
    fell_back: bool


_lock = threading.Lock()
_sessions: dict[tuple[str, str, int, bytes], Any] = {}
_reports: dict[str, SessionReport] = {}
_warned_fallback = False


def requested_device(device: str | None = None) -> str:
    """The device asked for: the argument, else ``SPACEVOICE_DEVICE``, else ``auto``."""
    value = (device or os.environ.get("SPACEVOICE_DEVICE") or "auto").strip().lower()
    if value not in ("auto", *_PREFERENCE):
        raise DeviceError(
            f"Unknown compute device '{value}'.", "Choose auto, cuda, directml or cpu in Settings."
        )
    return value


def provider_order(device: str | None = None) -> list[str]:
    """Providers to try, most capable first, filtered by what this onnxruntime build offers."""
    ort = import_onnxruntime()

    available = set(ort.get_available_providers())
    wanted = requested_device(device)
    preferred = _AUTO_ORDER if wanted == "auto" else _PREFERENCE[wanted]
    order = [p for p in preferred if p in available]
    if wanted not in ("auto", "cpu") and not order:
        log.warning("%s was asked for but this onnxruntime build offers only %s", wanted, sorted(available))
    return [*order, "CPUExecutionProvider"]


def session_options(threads: int = 0, *, sequential: bool = True) -> ort.SessionOptions:
    """Options shared by every session: full graph optimisation, quiet logs, bounded threads."""
    ort = import_onnxruntime()

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if threads > 0:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if sequential:
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return options


def create_session(
    model: Path | str | bytes,
    *,
    device: str | None = None,
    threads: int = 0,
    name: str | None = None,
    cache: bool = True,
    prepack: bool = True,
    arena: bool = True,
    spinning: bool = True,
) -> ort.InferenceSession:
    """Create (or reuse) an onnxruntime session for ``model`` (a path or serialized bytes).

    A GPU provider that fails to build falls back to the CPU with one warning. Raises `ModelError` when the model
    file is missing or not a valid ONNX model. ``prepack=False`` keeps weights as stored (prepacked copies can add
    half the weights' size again) and ``arena=False`` skips the CPU memory arena: both trade a little speed for
    resident memory close to the model file's size. ``spinning=False`` lets idle worker threads sleep at once:
    for models run as several sessions in turn (Piper's encoder, then vocoder pieces), one session's spinning
    threads would otherwise take the cores from the next (measured on 2 cores: 0.75 s instead of 1.48 s).
    """
    ort = import_onnxruntime()  # telemetry off before any session exists

    global _warned_fallback
    label = name or (Path(model).name if not isinstance(model, bytes) else "in-memory model")
    if not isinstance(model, bytes):
        path = Path(model)
        if not path.is_file():
            raise ModelError(f"The model file {path.name} is missing.", "Run: main.py models verify")
        model = str(path)
    providers = provider_order(device)
    key = (
        model if isinstance(model, str) else "",
        ",".join(providers) + ("" if prepack and arena else f"|prepack={prepack},arena={arena}")
        + ("" if spinning else "|no-spin"),
        threads,
        model if isinstance(model, bytes) and len(model) < 4096 else _digest(model),
    )
    with _lock:
        if cache and key in _sessions:
            return _sessions[key]
    options = session_options(threads)
    if not prepack:
        options.add_session_config_entry("session.disable_prepacking", "1")
    options.enable_cpu_mem_arena = arena
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    fell_back = False
    reason = ""
    try:
        with warnings.catch_warnings():
            # onnxruntime warns on its own when a provider is missing; we report that once, below.
            warnings.simplefilter("ignore", UserWarning)
            session = ort.InferenceSession(model, sess_options=options, providers=providers)
    except Exception as error:
        if providers == ["CPUExecutionProvider"]:
            raise ModelError(
                f"The model {label} could not be loaded: it is damaged or not an ONNX model.",
                "Run: main.py models verify",
            ) from error
        fell_back, reason = True, str(error)
        try:
            session = ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as cpu_error:
            raise ModelError(
                f"The model {label} could not be loaded: it is damaged or not an ONNX model.",
                "Run: main.py models verify",
            ) from cpu_error
    if isinstance(model, bytes) and hasattr(session, "_model_bytes"):
        # onnxruntime's Python wrapper keeps the serialized model for the session's whole life, only so that
        # `set_providers` can rebuild it (its own TODO calls this "bad"); we never call that. Keeping it would
        # hold a second copy of the weights: measured +37 MB resident for the face embedder in the tray app.
        session._model_bytes = None
    in_use = tuple(session.get_providers())
    if providers[0] != "CPUExecutionProvider" and in_use[0] == "CPUExecutionProvider":
        fell_back, reason = True, reason or f"{providers[0]} could not start"
    if fell_back and not _warned_fallback:
        log.warning("The GPU could not be used for %s (%s); running on the CPU instead.", label, reason)
        _warned_fallback = True
    report = SessionReport(label, tuple(providers), in_use, fell_back)
    log.info("onnxruntime session %s on %s", label, ", ".join(in_use))
    with _lock:
        _reports[label] = report
        if cache:
            _sessions[key] = session
    return session


def _digest(model: str | bytes) -> bytes:
    if isinstance(model, str):
        return b""
    import hashlib

    return hashlib.sha1(model).digest()


def providers_in_use() -> dict[str, SessionReport]:
    """The report of every session created so far, by model name."""
    with _lock:
        return dict(_reports)


def release_freed_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc only; elsewhere nothing to do).

    Loading a model frees about as much memory as it keeps (parsed files, prepacking scratch), and a frame's
    activations are freed after each run; glibc keeps such memory in its heaps, counted as resident, unless
    trimmed. A tray app sits idle for hours between presses, so the loaders and the worker call this after
    loading and after each request (it takes well under a millisecond).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl): nothing to trim
        log.debug("malloc_trim unavailable")


def release_sessions() -> None:
    """Drop every cached session (frees model memory; the next use reloads)."""
    with _lock:
        _sessions.clear()


def check_gpu_usable() -> str:
    """A one-line summary of the compute device that `auto` would use."""
    order = provider_order("auto")
    if order[0] == "CUDAExecutionProvider":
        return "NVIDIA GPU (CUDA)"
    if order[0] == "DmlExecutionProvider":
        return "GPU (DirectML)"
    return "CPU"


__all__ = [
    "DeviceError",
    "SessionReport",
    "check_gpu_usable",
    "create_session",
    "provider_order",
    "providers_in_use",
    "release_freed_memory",
    "release_sessions",
    "requested_device",
    "session_options",
]
