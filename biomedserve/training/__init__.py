"""Everything that makes a model: fine-tuning and its features.

* ``recipes``: recipes as data (YAML validated by pydantic, with ``extends``);
* ``finetune``: one fine-tuning run (the Hugging Face ``Trainer``) from a recipe to a model directory;
* ``stabilise``, ``sampling``, ``pseudo_labels``: the stabilisation techniques of Tinn et al., corpus
  sampling for multi-type NER, and self-training on unlabeled text;
* ``sweep`` and ``blurb``: multi-seed runs keyed by their resolved recipe, and the BLURB score;
* ``pretraining`` / ``pretrain_data``: masked-language-model domain adaptation of an encoder;
* ``provenance``: what a model was trained on, for its card; ``spacy_baseline``: spaCy's own NER
  trained on the same data, the comparison row.

Nothing under ``runtime``, ``serving`` or ``annotate`` imports this package (tests/test_structure.py).
"""
