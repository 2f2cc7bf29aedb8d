"""A run on a GPU machine lent by the ``device`` tool: ``bundle`` packs what the machine lacks and
collects its results; ``run.sh`` is the command it runs."""
