"""``python -m factory`` is ``docfactory``."""

from factory.cli import main

main()
