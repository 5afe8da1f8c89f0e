"""Export a vision-encoder-decoder captioner to ONNX with Optimum, optionally int8-quantized.

This is export tooling (the ``export`` extra): optimum, torch and transformers are imported inside the functions,
never by the runtime path. The result has Optimum's layout (encoder, decoder, decoder-with-past and merged decoder
beside the JSON configs and tokenizer.json), which `engine.captioner` loads. With ``quantize`` the ONNX files are
replaced by dynamically quantized ``*_quantized.onnx`` files (int8 weights, activations quantized on the fly),
the naming used by the Xenova exports.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from engine.errors import InputError, ModelError

log = logging.getLogger(__name__)

TASK = "image-to-text-with-past"
EXPORT_HINT = "Install the export tools with: pip install -e '.[export]'"


def export_captioner(source: str | Path, out_dir: Path, *, quantize: bool = False) -> Path:
    """Export ``source`` (a local transformers folder or a hub id) to ``out_dir`` for `engine.captioner`.

    The export is written to a temporary folder beside ``out_dir`` and moved into place only when complete, so an
    interrupted export never leaves a half-written model that looks usable. ``out_dir`` must not exist or be
    empty (an `InputError` otherwise: nothing is ever deleted). Returns ``out_dir``.
    """
    try:
        from optimum.exporters.onnx import main_export
    except ImportError as error:
        raise ModelError("Exporting models needs Optimum, which is not installed.", EXPORT_HINT) from error
    out_dir = Path(out_dir)
    if isinstance(source, Path) or Path(str(source)).exists():
        source_path = Path(source)
        if not (source_path / "config.json").is_file():
            raise InputError(f"{source_path} is not a transformers model folder (no config.json).",
                             "Point to a folder saved with save_pretrained, or a model id.")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        # Never delete what is there: the caller may have pointed at a folder of their own by mistake.
        raise InputError(f"{out_dir} already exists and is not empty.", "Choose a new or empty folder.")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        log.info("exporting %s with Optimum (task %s)", source, TASK)
        main_export(str(source), output=staging, task=TASK, do_validation=False)
        if quantize:
            quantize_folder(staging)
        if out_dir.exists():
            out_dir.rmdir()  # empty (checked above)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def quantize_folder(folder: Path) -> list[Path]:
    """Replace every ``*.onnx`` in ``folder`` by an int8 ``*_quantized.onnx`` (onnxruntime dynamic quantization)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    written = []
    for model in sorted(Path(folder).glob("*.onnx")):
        if model.stem.endswith("_quantized"):
            continue
        target = model.with_name(f"{model.stem}_quantized.onnx")
        # Signed int8 weights with unsigned activations: the combination onnxruntime's CPU kernels run fastest
        # on x86 (VNNI/AVX2) and on ARM.
        quantize_dynamic(model, target, weight_type=QuantType.QInt8, per_channel=False)
        model.unlink()
        written.append(target)
        log.info("quantized %s -> %s", model.name, target.name)
    return written
