"""The command line: ``docfactory run | validate | preview | sample-data | status | runs |
proof | templates | print | sample-invoices``, ``archive ...``, ``keys ...``, ``audit ...`` and
``serve``.

Takes argv and the environment; gives exit codes (see `app`).
"""

from factory.cli.app import cli, main

__all__ = ["cli", "main"]
