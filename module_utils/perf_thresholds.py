"""The runbook's numbers as warning / critical pairs, for modules called on their own.

The source of truth for playbooks is ``playbooks/group_vars/all/thresholds.yml``; a unit test keeps
this copy equal to it, so a module run alone and a module run by the runbook grade alike.
Sites override the YAML (inventory group_vars), and playbooks pass the merged pairs to the modules.
"""

from __future__ import annotations

import copy

RUNBOOK_THRESHOLDS = {
    "pg_long_query_seconds": {
        "warning": 1,
        "critical": 5,
        "direction": "above",
        "unit": "s",
        "source": "runbook: Scenario 3 (queries >1 s) and 'Check for long-running queries' (>5 s)",
    },
    "pg_lock_wait_seconds": {
        "warning": 1,
        "critical": 5,
        "direction": "above",
        "unit": "s",
        "source": "gap: the runbook lists blocking queries without a number; same pair as long queries",
    },
    "pg_pool_utilization_percent": {
        "warning": 70,
        "critical": 80,
        "direction": "above",
        "unit": "%",
        "source": "runbook: pool exhausted over 80 % of max_connections; warning at 70 % (gap closed)",
    },
    "pg_cache_hit_percent": {
        "warning": 95,
        "critical": 90,
        "direction": "below",
        "unit": "%",
        "source": "runbook: cache hit rate should be >95 %; critical under 90 % (gap closed)",
    },
    "pg_statement_mean_ms": {
        "warning": 100,
        "critical": 1000,
        "direction": "above",
        "unit": "ms",
        "source": "runbook: verification 'database query time <100 ms'; SlowQueryDetected mean >1 s",
    },
    "pg_seq_scan_rows": {
        "warning": 10000,
        "critical": 100000,
        "direction": "above",
        "unit": "rows",
        "source": "gap: the runbook's 'Seq Scan (bad)' made a number: rows of a table read by sequential scans",
    },
}


def thresholds_for(names, overrides=None):
    """The pairs a check needs: runbook defaults, each key overridable by the caller's dict."""
    overrides = overrides or {}
    merged = {}
    for name in names:
        pair = copy.deepcopy(RUNBOOK_THRESHOLDS[name])
        pair.update(overrides.get(name) or {})
        pair["name"] = name
        merged[name] = pair
    return merged


def validate_thresholds(thresholds):
    """Return one-line problems with a thresholds dict (negative, or warning beyond critical)."""
    problems = []
    for name, pair in (thresholds or {}).items():
        if not isinstance(pair, dict):
            problems.append(f"threshold {name} must be a dict with warning and critical")
            continue
        for level in ("warning", "critical"):
            value = pair.get(level)
            if value is None:
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                problems.append(f"threshold {name}.{level} must be a number, got {value!r}")
            elif value < 0:
                problems.append(f"threshold {name}.{level} must not be negative, got {value}")
        warning, critical = pair.get("warning"), pair.get("critical")
        if isinstance(warning, (int, float)) and isinstance(critical, (int, float)):
            below = pair.get("direction", RUNBOOK_THRESHOLDS.get(name, {}).get("direction", "above")) == "below"
            if (critical > warning) if below else (critical < warning):
                problems.append(f"threshold {name}: critical {critical} is less severe than warning {warning}")
    return problems
