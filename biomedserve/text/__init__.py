"""Text rules shared by training and serving: one word segmentation (``words``), how words become
sub-word features (``encoding``) and how tag sequences become spans (``decoding``).

Pure Python and torch-free, so the runtime, the scorer and the trainer read text the same way.
"""
