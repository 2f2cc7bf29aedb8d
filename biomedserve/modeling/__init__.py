"""The PyTorch side of a model: encoders (``encoders``: the embedded default and any hub id or path)
and the sequence heads as ``nn.Module``s with their save and load (``heads``).

Imported where PyTorch runs: training, export and the runtime's ``--backend torch``. The ONNX export
wrappers of the heads live in :mod:`biomedserve.export.head_onnx`.
"""
