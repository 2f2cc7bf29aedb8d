"""Training recipes as data (``<dataset>/<name>.yaml``, ``spacy/ner.cfg``), installed as ``biomedserve._recipes``."""
