"""ONNX export with optimum: the graph the runtime serves by default."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from biomedserve.errors import BiomedserveError
from biomedserve.modeldir import ONNX_FILE


def export_onnx(model_dir: Path, onnx_task: str) -> Path:
    """Export the PyTorch weights in ``model_dir`` to ``model_dir/model.onnx``.

    optimum validates the graph against PyTorch on a dummy batch during export. It writes config
    and tokenizer copies too; we keep only the graph, written atomically.
    """
    from optimum.exporters.onnx import main_export

    with tempfile.TemporaryDirectory(dir=model_dir, prefix=".export-") as tmp:
        try:
            main_export(str(model_dir), output=tmp, task=onnx_task, device="cpu", do_validation=True)
        except Exception as exc:
            raise BiomedserveError(f"ONNX export of {model_dir} failed: {exc}") from exc
        produced = Path(tmp) / ONNX_FILE
        if not produced.is_file():
            raise BiomedserveError(f"ONNX export of {model_dir} produced no {ONNX_FILE}")
        shutil.move(str(produced), model_dir / ONNX_FILE)
    return model_dir / ONNX_FILE
