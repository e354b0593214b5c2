"""Benchmarks: ``python -m bench.<name>`` (see ``make bench``)."""
