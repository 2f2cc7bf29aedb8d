"""The benchmarks: each module measures one claim and writes ``benchmarks/results/<name>.{json,md}``
with the machine it ran on. Run from the repository root::

    python -m benchmarks.<name> [--help]          # e.g. python -m benchmarks.blurb --report-only

Each report ends with the command that rebuilds it; ``benchmarks/README.md`` is the write-up of them
all. ``benchmarks.crosscorpus`` holds the evaluation-only sets of other corpora and the scorer the
studies share (research code, kept out of the product); ``benchmarks.device`` the scripts for a lent
GPU machine.
"""
