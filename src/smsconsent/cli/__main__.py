"""``python -m smsconsent.cli``: the same as the ``smsconsent`` console script."""

from smsconsent.cli import main

main()
