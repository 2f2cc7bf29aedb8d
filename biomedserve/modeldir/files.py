"""The files a model directory carries: every file its card lists, and each variant's graph.

A copy of a model (a saved spaCy pipeline) takes exactly these, so a variant still being
built or a stray export never travels, and a variant built since the model was loaded does.
"""

from __future__ import annotations

from pathlib import Path

from biomedserve.errors import ModelDirError
from biomedserve.modeldir.card import ModelMeta, read_meta, variant_file


def graph_files(meta: ModelMeta) -> set[str]:
    """The ONNX graphs the card lists: ``model.onnx`` (fp32) and one file per variant."""
    return {variant_file(name) for name in ("fp32", *meta.variants)}


def carried_files(model_dir: Path) -> list[str]:
    """The files of ``model_dir`` a saved pipeline carries: everything but an ONNX graph the card
    does not list (a variant still being built, a stray export). The PyTorch weights travel too: the
    card lists them, and a model directory is checked against every file its card lists when opened.

    The card is read now, not when the model was loaded, so a variant built since is carried too.
    """
    graphs = graph_files(read_meta(model_dir))
    return sorted(item.name for item in model_dir.iterdir()
                  if item.is_file() and (item.name in graphs or not item.name.endswith(".onnx")))


def saved_variants(model_dir: Path) -> list[str]:
    """The variants of the card whose graph file is present in ``model_dir`` (``fp32`` first)."""
    try:
        meta = read_meta(model_dir)
    except ModelDirError:
        return []
    return [name for name in ("fp32", *meta.variants) if (model_dir / variant_file(name)).is_file()]
