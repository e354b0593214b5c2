"""Hypothesis budgets: ``make test`` runs a fixed small one, ``make fuzz`` a long one.

``HYPOTHESIS_PROFILE=fuzz`` (what ``make fuzz`` sets) explores many random examples and keeps
failures in ``.hypothesis/``; the default ``ci`` profile is derandomized, so the suite stays
reproducible and quick.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "20000")), deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
