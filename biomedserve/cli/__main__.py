"""``python -m biomedserve.cli``: the same command as the ``biomedserve`` script."""

from biomedserve.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
