"""From a trained PyTorch model to what the runtime serves.

* ``onnx``: ONNX export (optimum for the Hugging Face heads) and the model directory's files and card;
* ``head_onnx``: the export wrappers of biomedserve's own heads (``torch.onnx`` with a parity check);
* ``variants``: graph-optimised, int8 and fp16 variants, each gated on dev accuracy;
* ``evaluation``: a model directory's BLURB metric on a split, through the runtime it will be served by.
"""
