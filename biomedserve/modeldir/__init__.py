"""The model-directory contract, torch-free: what a ``models/<name>/`` directory holds and promises.

* ``card``: the card ``biomedserve.json`` (:class:`~biomedserve.modeldir.card.ModelMeta`), its file
  checksums, the variant records and the human-readable ``README.md``;
* ``task_types``: what a task type is to the runtime and the front-ends (input and output kinds);
* ``metric_keys``: how a score is keyed in the card (split, backend, limit);
* ``files``: which files a directory and each of its graph variants carry;
* ``variant_choice``: which graph variant runs on this host, and why.

Nothing here imports PyTorch, so the runtime and the service can read a card without it; training
and export write model directories through it.
"""
