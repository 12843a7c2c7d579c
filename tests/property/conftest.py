"""Hypothesis profiles for the property tests, chosen with `HYPOTHESIS_PROFILE` (default `ci`):

- `ci`: the same examples on every run (`derandomize`), bounded for two shared cores, and no
  example database (nothing is written to `.hypothesis/`).
- `fuzz`: a long random search that remembers failing examples in `.hypothesis/` and replays
  them first next time, e.g. `HYPOTHESIS_PROFILE=fuzz .venv/bin/python -m pytest tests/property`.

`--hypothesis-profile NAME` (hypothesis' own pytest option) wins over the variable. Hypothesis
settings are process-wide: once this directory is collected, the profile is the default of every
hypothesis test in the run.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

PROFILE_VARIABLE = "HYPOTHESIS_PROFILE"

# Building a store's corpus, or one space per example, is slow for hypothesis' taste; the sizes
# of the generated trees are bounded by the strategies themselves.
_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=150,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=_SLOW_IS_FINE,
)
settings.register_profile(
    "fuzz",
    max_examples=2500,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SLOW_IS_FINE,
)


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--hypothesis-profile", default=None):
        return
    settings.load_profile(os.environ.get(PROFILE_VARIABLE, "ci"))
