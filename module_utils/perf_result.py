"""One check-result shape for every check, and the pure rules that grade a value against a threshold.

Every diagnostic, whatever module produced it, ends up as the record built by ``make_record``:
triage, the report, verify and the alert rules read this shape and nothing else.
"""

from __future__ import annotations

import time

STATUSES = ("ok", "warning", "critical", "failed", "skipped")
# How serious each status is. A critical finding outranks a check that could not run: when a full
# server refuses connections, pool exhaustion is the news, the checks it stopped are its consequence.
STATUS_RANK = {"critical": 4, "failed": 3, "warning": 2, "ok": 1, "skipped": 0}


def classify(value, threshold):
    """Grade a number against a warning / critical pair.

    ``direction`` says which way is bad: ``above`` (latency, utilization) or ``below`` (cache hit).
    A value of None (nothing measured yet) is ok: absence of evidence is reported, not alarmed on.
    """
    if value is None or not threshold:
        return "ok"
    warning, critical = threshold.get("warning"), threshold.get("critical")
    if threshold.get("direction", "above") == "below":
        if critical is not None and value < critical:
            return "critical"
        if warning is not None and value < warning:
            return "warning"
        return "ok"
    if critical is not None and value >= critical:
        return "critical"
    if warning is not None and value >= warning:
        return "warning"
    return "ok"


def worst_status(statuses):
    """The most serious status among several (``skipped`` when there is none)."""
    statuses = list(statuses)
    if not statuses:
        return "skipped"
    return max(statuses, key=lambda status: STATUS_RANK[status])


def make_record(
    check,
    status,
    *,
    value=None,
    unit=None,
    threshold=None,
    evidence=None,
    summary="",
    error=None,
    target=None,
    notes=None,
):
    """Build the one record shape. ``threshold`` carries its own name and source so a report can say
    which rule fired and where the number came from."""
    if status not in STATUSES:
        raise ValueError(f"unknown check status {status!r}")
    return {
        "check": check,
        "status": status,
        "value": value,
        "unit": unit,
        "threshold": threshold,
        "evidence": evidence if evidence is not None else {},
        "summary": summary,
        "error": error,
        "target": target,
        "notes": list(notes or []),
    }


def failed_record(check, error, *, target=None, threshold=None):
    """A check that could not run: the reason says why, the run goes on."""
    return make_record(
        check, "failed", error=error, summary=f"could not run: {error}", target=target, threshold=threshold
    )


class Stopwatch:
    """Measures how long a check took, so the report shows where a diagnosis spends its time."""

    def __init__(self):
        self.started = time.monotonic()

    def elapsed_ms(self):
        return round((time.monotonic() - self.started) * 1000, 1)


def collector_result(records, connect_error=None, changed=False):
    """What a collector module (pg_diagnose, redis_diagnose) returns: its records and their worst status."""
    result = {"changed": changed, "checks": records, "status": worst_status(r["status"] for r in records)}
    if connect_error:
        result["connect_error"] = connect_error.message
    return result
