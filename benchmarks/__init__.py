"""The benchmarks: each module measures one claim and writes ``benchmarks/results/<name>.{json,md}``
with the machine it ran on. Run from the repository root::

    python -m benchmarks.<name> [--help]          # e.g. python -m benchmarks.blurb --report-only

Each report ends with the command that rebuilds it. ``benchmarks.device`` holds the scripts for a
lent GPU machine.
"""
