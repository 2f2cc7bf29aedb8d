"""ONNX export with optimum (the graph the runtime serves by default), and the step that turns
saved weights into a complete model directory."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from biomedserve.errors import BiomedserveError
from biomedserve.export.head_onnx import export_head_onnx, tracer_warnings_silenced
from biomedserve.modeldir.card import HEAD_CONFIG, ONNX_FILE, ModelMeta, read_meta, record_files, write_meta
from biomedserve.modeling.heads import load_head, takes_token_types


def export_onnx(model_dir: Path, onnx_task: str) -> Path:
    """Export the PyTorch weights in ``model_dir`` to ``model_dir/model.onnx``.

    optimum validates the graph against PyTorch on a dummy batch during export. It writes config
    and tokenizer copies too; we keep only the graph, written atomically. A :mod:`biomedserve.modeling.heads`
    head (``head.json`` beside the weights) is exported with ``torch.onnx`` and checked the same way.
    """
    from optimum.exporters.onnx import main_export

    if (model_dir / HEAD_CONFIG).is_file():  # a biomedserve.modeling.heads head: optimum knows no such model
        try:
            model = load_head(model_dir)
            return export_head_onnx(model, model_dir / ONNX_FILE, takes_token_types(model.encoder))
        except Exception as exc:
            raise BiomedserveError(f"ONNX export of {model_dir} failed: {exc}") from exc
    with tempfile.TemporaryDirectory(dir=model_dir, prefix=".export-") as tmp:
        try:
            with tracer_warnings_silenced():
                main_export(str(model_dir), output=tmp, task=onnx_task, device="cpu", do_validation=True)
        except Exception as exc:
            raise BiomedserveError(f"ONNX export of {model_dir} failed: {exc}") from exc
        produced = Path(tmp) / ONNX_FILE
        if not produced.is_file():
            raise BiomedserveError(f"ONNX export of {model_dir} produced no {ONNX_FILE}")
        shutil.move(str(produced), model_dir / ONNX_FILE)
    return model_dir / ONNX_FILE


def build_model_dir(model_dir: Path, meta: ModelMeta, evaluate: Sequence[str] = (),
                    data_dir: str | Path | None = None, limit: int | None = None,
                    progress: bool = False, backend: str = "onnx") -> ModelMeta:
    """Make ``model_dir`` (PyTorch weights and tokenizer, described by ``meta``) a complete model
    directory: export ``model.onnx``, record its checksum, write the card, then score each split in
    ``evaluate`` through the runtime (on the first ``limit`` examples if set) into the card, under
    ``<split>/<backend>``: the fp32 ONNX graph by default, or the PyTorch weights (``backend="torch"``).

    ``biomedserve train`` and ``biomedserve export`` both end here, so a re-export and a fresh
    training leave the same files recorded the same way. Returns the card as written.
    """
    from biomedserve.tasks import get_task

    export_onnx(model_dir, get_task(meta.task).onnx_task)
    meta.files = dict(sorted({**meta.files, **record_files(model_dir, [ONNX_FILE])}.items()))
    write_meta(model_dir, meta)
    if evaluate:
        from biomedserve.export.evaluation import evaluate_model
        from biomedserve.runtime import Predictor

        # loaded once for every split; every file was just checksummed into the card, not again here
        predictor = Predictor.from_dir(model_dir, backend=backend, variant="fp32", verify=False)
        for split in evaluate:
            evaluate_model(model_dir, split=split, backend=backend, data_dir=data_dir, limit=limit, record=True,
                           progress=progress, predictor=predictor)
        from biomedserve.export.floors import assess

        assess(model_dir, predictor, evaluate, data_dir=data_dir, limit=limit)
    return read_meta(model_dir)
