"""``main.py models``: list, download, verify, remove and export the models SpaceVoice uses."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from engine.errors import ModelError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
EXPORT_MODULES = ("torch", "transformers", "optimum", "onnxscript", "snac", "accelerate", "onnx")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``models`` command and its sub-commands."""
    parser = sub.add_parser("models", help="list, download, verify, remove or export models")
    actions = parser.add_subparsers(dest="models_action", metavar="ACTION")
    parser.set_defaults(func=lambda args: _usage(parser))

    listing = actions.add_parser("list", help="the catalogue and what is installed")
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(func=run_list)

    download = actions.add_parser("download", help="download a catalogued model (resumable, verified)")
    download.add_argument("name", metavar="NAME")
    download.add_argument("--variant", help="which files: e.g. int8 (smaller, faster), fp32, or all")
    download.set_defaults(func=run_download)

    verify = actions.add_parser("verify", help="re-check installed models against their checksums")
    verify.add_argument("name", nargs="?", metavar="NAME", help="one model (default: all)")
    verify.set_defaults(func=run_verify)

    remove = actions.add_parser("remove", help="delete an installed or partial model")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(func=run_remove)

    export = actions.add_parser("export", help="export a model to ONNX and install it (needs the export extra)")
    export.add_argument("source", metavar="SOURCE",
                        help="a local model folder or hub id, or 'snac' (the voice decoder)")
    export.add_argument("--task", default="image-to-text", choices=("image-to-text", "florence2", "audio-codec", "vlm"),
                        help="florence2: a Florence-2 scene model; vlm: a SmolVLM / Idefics3 vision-language model")
    export.add_argument("--name", help="name in the store (default: from SOURCE)")
    export.add_argument("--quantize", action="store_true",
                        help="store int8 dynamically quantized files instead of fp32 (4x smaller, faster on a CPU)")
    export.add_argument("--weights", type=Path, help="snac: the pytorch_model.bin of hubertsiuzdak/snac_24khz")
    export.add_argument("--random-weights", action="store_true",
                        help="snac: export random weights (for testing the pipeline only; it speaks noise)")
    export.set_defaults(func=run_export)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _store() -> Any:
    from engine.models.store import ModelStore
    from engine.settings import Settings

    return ModelStore.from_settings(Settings.load())


def run_list(args: argparse.Namespace) -> int:
    """Print the catalogue with each model's state, then installed models that are not catalogued."""
    from engine.faces.models import built_in_state

    store = _store()
    rows = []
    for entry in store.catalogue:
        state = store.state(entry.name)
        # The face models ship with SpaceVoice: not downloading the full-precision ones is not "missing".
        state = (built_in_state(entry.name) or state) if state == "missing" else state
        model = store.manifest(entry.name)
        size = model.size if model else entry.known_size()
        rows.append({"name": entry.name, "task": entry.task, "state": state, "size": size,
                     "download_size": entry.size_hint(),
                     "variant": model.variant if model else entry.default_variant, "licence": entry.licence,
                     "source": entry.repo, "description": entry.description})
    for model in store.installed():
        if model.name not in store.catalogue:
            rows.append({"name": model.name, "task": model.task, "state": "installed", "size": model.size,
                         "variant": model.variant, "licence": "", "source": model.source,
                         "description": "exported here"})
    for name in store.partial():
        if name not in store.catalogue:
            rows.append({"name": name, "task": "", "state": "partial", "size": None, "variant": None,
                         "licence": "", "source": "", "description": "an export that did not finish"})
    if args.json:
        print(json.dumps({"store": str(store.root), "models": rows}, ensure_ascii=False))
        return 0
    print(f"Model store: {store.root}")
    print(f"{'NAME':27} {'TASK':17} {'STATE':10} {'SIZE':>17}  SOURCE")
    for row in rows:
        size = _size(row["size"]) if row["state"] == "installed" else row.get("download_size", "?")
        size = "included" if row["state"] == "built-in" else size
        print(f"{row['name']:27} {row['task']:17} {row['state']:10} {size:>17}  {row['source']}")
    partial = [r["name"] for r in rows if r["state"] == "partial"]
    if partial:
        print(f"Partial ({', '.join(partial)}): finish with main.py models download NAME, "
              "or delete with main.py models remove NAME")
    return 0


def run_download(args: argparse.Namespace) -> int:
    """Download one catalogued model with a progress bar on stderr."""
    from engine.models.download import download_model

    store = _store()
    entry = store.catalogue.get(args.name)
    before = store.manifest(entry.name)
    if before is None:
        print(f"Downloading {entry.name} ({entry.licence}, {entry.size_hint(args.variant)}) from {entry.repo} "
              f"into {store.folder(entry.name)}", file=sys.stderr)
    else:
        print(f"Checking the installed {entry.name}...", file=sys.stderr)
    model = download_model(store, args.name, variant=args.variant, progress=ProgressBar())
    if before is not None and model.installed_at == before.installed_at and model.files == before.files:
        print(f"{model.name} is already installed and verified ({model.variant or 'all files'}) in {model.folder}")
    else:
        print(f"Installed {model.name} ({model.variant or 'all files'}, {_size(model.size)}) in {model.folder}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """Re-hash installed models; a non-zero status when any is partial, damaged or missing."""
    store = _store()
    names = [args.name] if args.name else [m.name for m in store.installed()] + store.partial()
    if not names:
        print(f"No models are installed in {store.root}. Run: main.py models list")
        return 0
    failed = []
    for name in names:
        report = store.verify(name)
        if report.ok:
            model = store.manifest(name)
            print(f"{name}: OK ({len(model.files)} files, {_size(model.size)})")
            for note in report.notes:
                print(f"  Not fully checked: {note}.")
            continue
        failed.append(name)
        detail = "; ".join(report.problems) or "not installed"
        print(f"{name}: {report.state.upper()}: {detail}")
    if failed:
        raise ModelError(f"{len(failed)} model(s) need repair: {', '.join(failed)}.",
                         "Run: main.py models download NAME (it keeps good files and fetches the rest), "
                         "or main.py models remove NAME.")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    """Delete one model folder."""
    store = _store()
    if not store.remove(args.name):
        raise ModelError(f"{args.name} is not installed.", "Run: main.py models list")
    print(f"Removed {args.name}.")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Run an exporter (export extra only) into a staging folder in the store, then register the result."""
    store = _store()
    snac = args.source == "snac"
    task = "audio-codec" if snac else args.task
    if snac and not args.weights and not args.random_weights:
        raise ModelError("Exporting SNAC needs its weights (pytorch_model.bin of hubertsiuzdak/snac_24khz).",
                         "Pass --weights PATH, or --random-weights to test the pipeline with noise.")
    if snac:
        name = args.name or ("snac-24khz" if args.weights else "snac-24khz-random")
    elif task not in ("image-to-text", "florence2", "vlm"):
        raise ModelError(f"Exporting {task} models is not supported.", "Use --task image-to-text, or 'export snac'.")
    else:
        name = args.name or Path(str(args.source).rstrip("/\\")).name.lower()
    store.folder(name)  # validates the name before any work
    installed = store.manifest(name)
    if installed is not None and installed.source != str(args.source):
        raise ModelError(f"{name} is already installed (from {installed.source}).",
                         f"Choose another --name, or first: main.py models remove {name}")
    if not snac and not Path(args.source).expanduser().is_dir() and not HUB_ID.match(str(args.source)):
        raise ModelError(f"{args.source} is neither a model folder nor a hub id like owner/model.",
                         "Give the folder holding config.json, or a hub id.")
    store.root.mkdir(parents=True, exist_ok=True)
    staging = store.root / f".export-{name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        print(f"Exporting {args.source} to ONNX; this can take several minutes...", file=sys.stderr)
        written = _export(args, staging, snac)
        folder = written if written.is_dir() else staging
        # A Florence-2 export serves the same purpose as any captioner: the store knows it as a scene model.
        model = store.register(name, folder, task="image-to-text" if task == "florence2" else task,
                               source=str(args.source))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if task in ("vlm", "florence2"):  # the name alone on stdout, for scripts; the sentence for people on stderr
        setting = "vlm" if task == "vlm" else "captioner"
        print(f"Installed {model.name} ({len(model.files)} files, {_size(model.size)}) in {model.folder}. "
              f"Use it with: main.py settings set {setting} {model.name}", file=sys.stderr)
        print(model.name)
        return 0
    print(f"Installed {model.name} ({len(model.files)} files, {_size(model.size)}) in {model.folder}")
    if snac and not args.weights:
        print("Note: random weights; it produces noise, not speech.", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace, staging: Path, snac: bool) -> Path:
    try:
        if snac:
            from engine.models.export_snac import export_snac

            return Path(export_snac(staging, weights=args.weights))
        from engine.models.export import export_captioner

        local = Path(args.source).expanduser()
        source: str | Path = local if local.is_dir() else args.source
        try:
            if args.task == "vlm":
                from engine.vlm.export import export_vlm

                return Path(export_vlm(source, staging, quantize=args.quantize))
            if args.task == "florence2":
                from engine.models.export_florence import export_florence2

                return Path(export_florence2(source, staging, quantize=args.quantize))
            return Path(export_captioner(source, staging, quantize=args.quantize))
        except OSError as error:  # transformers' words for "no such model on the hub" or "no network"
            if isinstance(source, Path):
                raise
            raise ModelError(f"Could not fetch {source} from the model hub ({str(error).splitlines()[0]}).",
                             "Check the id and your network, or download it and give the local folder.") from error
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] in EXPORT_MODULES:
            raise ModelError(f"Exporting needs {error.name}, which is not installed.",
                             "Install the export extra: pip install -e .[export]") from error
        if (error.name or "").startswith("engine.models.export"):
            raise ModelError("The exporter is not part of this installation of SpaceVoice.",
                             "Update SpaceVoice from source.") from error
        raise


def _size(size: int | None) -> str:
    if size is None:
        return "?"
    if size >= 1e9:
        return f"{size / 1e9:.1f} GB"
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"


class ProgressBar:
    """A download progress bar on stderr: redrawn in place on a terminal, a line per file otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.label = ""
        self.total: int | None = None
        self.done = 0
        self._started = 0.0
        self._first = 0
        self._drawn = 0.0

    def start(self, label: str, total: int | None, done: int = 0) -> None:
        """A file starts, or resumes at ``done`` bytes."""
        self.label, self.total, self.done, self._first = label, total, done, done
        self._started = time.monotonic()
        if not self.tty:
            resume = f", resuming at {_size(done)}" if done else ""
            print(f"{label}: downloading {_size(total)}{resume}", file=self.stream, flush=True)
        else:
            self._draw()

    def update(self, done: int) -> None:
        """``done`` bytes are on disk."""
        self.done = done
        if self.tty and time.monotonic() - self._drawn >= 0.1:
            self._draw()

    def finish(self) -> None:
        """The file is complete and verified."""
        if self.tty:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
        else:
            print(f"{self.label}: verified", file=self.stream, flush=True)

    def _draw(self) -> None:
        self._drawn = time.monotonic()
        elapsed = max(self._drawn - self._started, 1e-3)
        rate = (self.done - self._first) / elapsed
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            bar = "#" * int(fraction * 24)
            text = f"\r{self.label[-40:]:40} [{bar:24}] {fraction:4.0%} {_size(self.done)}/{_size(self.total)}"
        else:
            text = f"\r{self.label[-40:]:40} {_size(self.done)}"
        self.stream.write(f"{text} {_size(int(rate))}/s   ")
        self.stream.flush()
