"""Reproducible sample input for demos, tests and benchmarks, at the edge of the package.

``customers`` writes sample customers and their transactions (``docfactory sample-data``);
``invoices`` writes sample invoices (``docfactory sample-invoices``). Only the command line,
the tests and the benchmarks import this package; nothing in the factory's layers does.
"""
