"""Input checks every module family shares: option bounds and threshold overrides, as one-line problems."""

from __future__ import annotations

import math

from ansible.module_utils.perf_thresholds import RUNBOOK_THRESHOLDS, validate_thresholds


def bound_problems(params, bounds):
    """``bounds``: (option, smallest, largest or None). Finite numbers within bounds, or a named problem."""
    problems = []
    for name, lowest, highest in bounds:
        value = params.get(name)
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{name} must be a finite number, got {value}")
        elif value < lowest or (highest is not None and value > highest):
            bound = f"between {lowest} and {highest}" if highest is not None else f"at least {lowest}"
            problems.append(f"{name} must be {bound}, got {value}")
    return problems


def threshold_problems(thresholds):
    """Overrides that are malformed, or name a threshold the runbook does not have (a typo would be ignored)."""
    problems = validate_thresholds(thresholds)
    unknown = sorted(set(thresholds or {}) - set(RUNBOOK_THRESHOLDS))
    if unknown:
        known = ", ".join(sorted(RUNBOOK_THRESHOLDS))
        problems.append(f"unknown threshold name(s): {', '.join(unknown)} (known: {known})")
    return problems
