"""The benchmarks: each module measures one claim and writes ``benchmarks/results/<name>.{json,md}``
with the machine it ran on. Run from the repository root::

    python -m benchmarks.<name> [--help]          # e.g. python -m benchmarks.blurb --report-only

What each one measured is written up in ``benchmarks/README.md``. ``benchmarks.device`` holds the
scripts for a lent GPU machine. Research-only helpers (cross-corpus scoring) live here, not in the
product.
"""
