"""``python -m dkenv``: the command line, as the ``dkenv`` script runs it."""

from dkenv.cli import main

main()
