"""The runbook's numbers as warning / critical pairs, for modules called on their own.

The source of truth for playbooks is ``playbooks/group_vars/all/thresholds.yml``; a unit test keeps
this copy equal to it, so a module run alone and a module run by the runbook grade alike.
Sites override the YAML (inventory group_vars), and playbooks pass the merged pairs to the modules.
"""

from __future__ import annotations

import copy
import math

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
    "redis_latency_ms": {
        "warning": 1,
        "critical": 10,
        "direction": "above",
        "unit": "ms",
        "source": "runbook: Redis latency should be <1 ms; Scenario 5: latency >10 ms (graded on p95)",
    },
    "redis_memory_percent": {
        "warning": 80,
        "critical": 90,
        "direction": "above",
        "unit": "%",
        "source": "gap: the runbook reads used_memory without a number; share of maxmemory",
    },
    "redis_slowlog_ms": {
        "warning": 10,
        "critical": 100,
        "direction": "above",
        "unit": "ms",
        "source": "runbook: Redis slowlog (slower than 10 ms, its default); critical at 100 ms (gap closed)",
    },
    "redis_big_key_bytes": {
        "warning": 1048576,
        "critical": 10485760,
        "direction": "above",
        "unit": "bytes",
        "source": "gap: the runbook's 'large keys' made a number: 1 MiB / 10 MiB",
    },
    "queue_active_jobs": {
        "warning": 50,
        "critical": 100,
        "direction": "above",
        "unit": "jobs",
        "source": "runbook: active > 50, worker may be overloaded; critical at 100 (gap closed)",
    },
    "queue_waiting_jobs": {
        "warning": 1000,
        "critical": 10000,
        "direction": "above",
        "unit": "jobs",
        "source": "gap: the runbook checks the waiting backlog without a number",
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


_PAIR_KEYS = ("warning", "critical", "direction", "unit", "source", "name")


def _number_problem(name, level, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"threshold {name}.{level} must be a number, got {value!r}"
    if not math.isfinite(value):
        return f"threshold {name}.{level} must be a finite number, got {value}"
    if value < 0:
        return f"threshold {name}.{level} must not be negative, got {value}"
    return None


def _pair_problems(name, pair):
    if not isinstance(pair, dict):
        return [f"threshold {name} must be a dict with warning and critical"]
    problems = []
    unknown = sorted(set(pair) - set(_PAIR_KEYS))
    if unknown:
        problems.append(f"threshold {name} has unknown key(s) {', '.join(unknown)} (allowed: {', '.join(_PAIR_KEYS)})")
    for level in ("warning", "critical"):
        if level in pair:
            problem = _number_problem(name, level, pair[level])
            if problem:
                problems.append(problem)
    runbook_direction = RUNBOOK_THRESHOLDS.get(name, {}).get("direction")
    if "direction" in pair and pair["direction"] != runbook_direction and runbook_direction:
        problems.append(f"threshold {name}: direction is {runbook_direction!r} and cannot be changed")
    return problems


def validate_thresholds(thresholds):
    """One-line problems with threshold overrides: unknown keys, values that are not finite non-negative
    numbers (an empty YAML value is null: it would switch the check off), a changed direction, or a
    critical level less severe than the warning level once merged with the runbook's pair."""
    problems = []
    for name, pair in (thresholds or {}).items():
        pair_problems = _pair_problems(name, pair)
        problems += pair_problems
        if pair_problems or name not in RUNBOOK_THRESHOLDS:
            continue
        merged = {**RUNBOOK_THRESHOLDS[name], **pair}
        warning, critical = merged["warning"], merged["critical"]
        inverted = critical > warning if merged["direction"] == "below" else critical < warning
        if inverted:
            problems.append(f"threshold {name}: critical {critical} is less severe than warning {warning}")
    return problems
