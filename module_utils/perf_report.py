"""The incident report: one data structure (report.json is the truth) and its Markdown view.

``build_report`` turns the registered results of the diagnosis roles into the report; ``render_markdown``
is the only place that turns it into text. Nothing else assembles report text.
"""

from __future__ import annotations

import json
import re
import unicodedata

from ansible.module_utils.perf_incident import iso, utc_now
from ansible.module_utils.perf_result import STATUS_RANK, failed_record, worst_status

SCHEMA_VERSION = 1


# ---------------------------------------------------------------- data


def host_entry(host, role, raw):
    """One host's part of the report from what its diagnosis task registered (or did not)."""
    entry = {"host": host, "role": role, "reachable": True, "error": None, "checks": []}
    if not raw:
        entry.update(status="skipped", error="not diagnosed in this run (no result for this host)")
        return entry
    if raw.get("unreachable"):
        error = f"host unreachable: {_one_line(raw.get('msg'))}"
        entry.update(status="failed", reachable=False, error=error, checks=[failed_record(f"{role}_diagnosis", error)])
        entry["checks"][0]["host"] = host
        return entry
    if raw.get("skipped"):
        entry.update(status="skipped", error=_one_line(raw.get("skip_reason") or "skipped"))
        return entry
    if raw.get("failed") and not raw.get("checks"):
        error = _one_line(raw.get("msg") or "the diagnosis task failed")
        entry.update(status="failed", error=error, checks=[failed_record(f"{role}_diagnosis", error)])
        entry["checks"][0]["host"] = host
        return entry
    entry["checks"] = [dict(record, host=host) for record in raw.get("checks", [])]
    entry["status"] = worst_status(record["status"] for record in entry["checks"])
    return entry


def _one_line(text):
    return " ".join(str(text or "").split())


def empty_group_entry(source):
    """A host group with no host: nothing of that part of the stack was diagnosed, and the report says so."""
    group = source.get("group") or source["role"]
    error = f"inventory group {group!r} has no hosts: the {source['role']} diagnosis did not run"
    record = dict(failed_record(f"{source['role']}_diagnosis", error), host=f"group {group}")
    return {
        "host": f"group {group}",
        "role": source["role"],
        "reachable": True,
        "error": error,
        "checks": [record],
        "status": "failed",
    }


def build_report(incident, sources, thresholds, timeline, phase):
    """``sources``: [{role, group, hosts: [names], results: [registered result or None, same order]}]."""
    hosts = []
    for source in sources:
        results = list(source.get("results") or [])
        if not source.get("hosts"):
            hosts.append(empty_group_entry(source))
        for index, host in enumerate(source.get("hosts") or []):
            raw = results[index] if index < len(results) else None
            hosts.append(host_entry(host, source["role"], raw))
    records = [record for entry in hosts for record in entry["checks"]]
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": iso(utc_now()),
        "phase": phase,
        "incident": incident,
        "status": worst_status(entry["status"] for entry in hosts),
        "counts": {status: sum(1 for r in records if r["status"] == status) for status in STATUS_RANK},
        "findings": findings(records) + not_diagnosed(hosts),
        "hosts": hosts,
        "thresholds": thresholds,
        "timeline": timeline,
    }


def findings(records):
    """Every check that is not ok, worst first: what the on-call engineer reads first."""
    interesting = [r for r in records if r["status"] in ("critical", "warning", "failed")]
    interesting.sort(key=lambda r: -STATUS_RANK[r["status"]])
    return [
        {
            "host": r.get("host"),
            "check": r["check"],
            "status": r["status"],
            "value": r["value"],
            "unit": r["unit"],
            "threshold": (r.get("threshold") or {}).get("name"),
            "summary": r["summary"],
        }
        for r in interesting
    ]


def console_lines(report):
    """What the playbook prints at the end: the verdict and one line per finding."""
    lines = [f"Overall: {report['status'].upper()} for incident {report['incident']['id']}"]
    for finding in report["findings"]:
        lines.append(f"{finding['status'].upper()} {finding['host']} {finding['check']}: {finding['summary']}")
    if not report["findings"]:
        lines.append("No finding: every check is within its thresholds.")
    return lines


def not_diagnosed(hosts):
    """Hosts with no result at all (left out by --limit, or never reached by the play): listed, never silent."""
    return [
        {
            "host": entry["host"],
            "check": f"{entry['role']}_diagnosis",
            "status": "skipped",
            "value": None,
            "unit": None,
            "threshold": None,
            "summary": entry["error"],
        }
        for entry in hosts
        if entry["status"] == "skipped" and not entry["checks"]
    ]


# ---------------------------------------------------------------- Markdown

_BADGE = {"ok": "OK", "warning": "WARNING", "critical": "CRITICAL", "failed": "FAILED", "skipped": "skipped"}


def _visible(text):
    """Text without control and format characters (newlines, right-to-left overrides): what the data says
    must not rearrange what the report shows."""
    return "".join(" " if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") else char for char in str(text))


def _cell(value, limit=160):
    """A value made safe for a Markdown table cell or list item: one line, no markup of its own."""
    if value is None:
        return ""
    text = " ".join(_visible(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    # One line already keeps data from starting headings or lists; | would split table cells and < could
    # open HTML. Other markup stays, so that the report also reads well as plain text in a terminal.
    for markup in ("\\", "|", "<"):
        text = text.replace(markup, "\\" + markup)
    return text


def _code(value, limit=160):
    """Inline code: one line, backticks kept by a longer fence, pipes escaped for tables."""
    if value is None:
        return ""
    text = " ".join(_visible(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    # GitHub's tables split cells on | even inside code spans; \| is their escape, dropped when rendered.
    return f"{fence}{padding}{text.replace('|', chr(92) + '|')}{padding}{fence}"


def _code_block(text, language=""):
    """A statement to copy exactly: a fenced block, fence longer than any backtick run inside."""
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return [f"{fence}{language}", text, fence]


def _table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def format_value(value, unit):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        value = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value} {unit}".strip() if unit else str(value)


def format_threshold(threshold):
    if not threshold:
        return ""
    sign = "<" if threshold.get("direction") == "below" else "≥"
    unit = threshold.get("unit", "")
    return f"warn {sign} {threshold.get('warning')} {unit}, crit {sign} {threshold.get('critical')} {unit}".replace(
        "  ", " "
    ).strip()


def _sessions_table(sessions, seconds_key="query_seconds"):
    rows = [
        [
            s.get("pid"),
            _cell(s.get("user")),
            _cell(s.get("application")),
            _cell(s.get("client")),
            _cell(s.get("state")),
            s.get(seconds_key),
            _cell(s.get("wait_event")),
            _code(s.get("query")),
        ]
        for s in sessions
    ]
    return _table(["pid", "user", "application", "client", "state", "seconds", "wait", "query"], rows)


def _evidence_long_queries(evidence):
    return _sessions_table(evidence.get("queries", []))


def _evidence_activity(evidence):
    return _sessions_table(evidence.get("sessions", []))


def _evidence_blocking_locks(evidence):
    rows = [
        [
            b["pid"],
            b.get("wait_seconds"),
            ", ".join(map(str, b.get("blocking_pids", []))),
            " → ".join(map(str, b.get("chain", []))),
            _code(b.get("query")),
        ]
        for b in evidence.get("blocked", [])
    ]
    lines = ["Blocked sessions:", ""] + _table(["blocked pid", "waiting s", "blocked by", "chain", "query"], rows)
    roots = [
        [r["pid"], r.get("blocks"), _cell(r.get("state")), r.get("transaction_seconds"), _code(r.get("query"))]
        for r in evidence.get("root_blockers", [])
    ]
    return lines + ["", "Root blockers:", ""] + _table(["pid", "blocks", "state", "transaction s", "query"], roots)


def _evidence_pool_usage(evidence):
    if "connect_error" in evidence:
        return [f"Connection refused by the server: {_cell(evidence['connect_error'], 400)}"]
    lines = [
        f"{evidence.get('total')} of {evidence.get('max_connections')} connections: {evidence.get('active')} active, "
        f"{evidence.get('idle')} idle, {evidence.get('idle_in_transaction')} idle in transaction; runbook rule "
        f"(active + idle in transaction) {evidence.get('busy_percent')} %.",
        "",
    ]
    rows = [
        [
            _cell(h.get("user")),
            _cell(h.get("application")),
            _cell(h.get("client")),
            h.get("connections"),
            h.get("idle"),
            h.get("idle_in_transaction"),
            h.get("oldest_state_seconds"),
        ]
        for h in evidence.get("top_holders", [])
    ]
    return lines + _table(["user", "application", "client", "connections", "idle", "idle in tx", "oldest s"], rows)


def _evidence_cache_hit(evidence):
    rows = [[_cell(t["table"]), t["heap_read"], t["heap_hit"]] for t in evidence.get("tables", [])]
    return [f"heap blocks hit {evidence.get('heap_hit')}, read {evidence.get('heap_read')}", ""] + _table(
        ["table", "blocks read", "blocks hit"], rows
    )


def _evidence_index_candidates(evidence):
    lines = []
    for table in evidence.get("tables", []):
        columns = ", ".join(_code(c["column"]) for c in table.get("columns", [])) or "no column attributed"
        lines.append(
            f"- **{_code(table['table'])}** ({table['live_rows']} rows): read {table['full_scans']} times over by "
            f"{table['seq_scan']} sequential scans (parallel workers count apiece), {table['idx_scan']} index "
            f"scans; columns: {columns}"
        )
        for column in table.get("columns", [])[:1]:
            for statement in column.get("statements", [])[:3]:
                lines.append(
                    f"  - {statement['calls']} calls, mean {statement['mean_ms']} ms: {_code(statement['query'], 200)}"
                )
        if table.get("suggested_index"):
            lines += ["", "Suggested index:", ""] + _code_block(table["suggested_index"]["statement"], "sql") + [""]
    return lines


def _evidence_top_queries(evidence):
    rows = [
        [
            _cell(s.get("queryid")),
            _cell(s.get("user")),
            s.get("calls"),
            s.get("mean_ms"),
            s.get("max_ms"),
            s.get("total_ms"),
            s.get("rows_per_call"),
            _code(s.get("query")),
        ]
        for s in evidence.get("statements", [])[:10]
    ]
    return _table(["queryid", "user", "calls", "mean ms", "max ms", "total ms", "rows/call", "query"], rows)


def _evidence_redis_latency(evidence):
    return _table(
        ["samples", "min ms", "avg ms", "p50 ms", "p95 ms", "p99 ms", "max ms"],
        [[evidence.get(k) for k in ("samples", "min_ms", "avg_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms")]],
    )


def _evidence_redis_memory(evidence):
    keys = (
        "used_memory_human",
        "used_percent",
        "mem_fragmentation_ratio",
        "maxmemory_policy",
        "evicted_keys",
        "connected_clients",
        "blocked_clients",
    )
    return _table(
        ["used", "% of maxmemory", "fragmentation", "policy", "evicted", "clients", "blocked"],
        [[_cell(evidence.get(k)) for k in keys]],
    )


def _evidence_redis_slowlog(evidence):
    rows = [
        [g["command"], g["count"], g["max_ms"], g["total_ms"], _cell(g.get("offender"))]
        for g in evidence.get("by_command", [])
    ]
    lines = _table(["command", "count", "max ms", "total ms", "known offender"], rows)
    entries = [
        [
            e["id"],
            e["duration_ms"],
            _code(" ".join(e["args"]), 120),
            _cell(e.get("client")),
            _cell(e.get("client_name")),
        ]
        for e in evidence.get("entries", [])[:10]
    ]
    return lines + ["", "Slowest entries:", ""] + _table(["id", "ms", "command", "client", "name"], entries)


def _evidence_redis_bigkeys(evidence):
    rows = [[_code(k["key"], 80), k["type"], k["elements"], k["bytes"]] for k in evidence.get("top_by_memory", [])]
    per_type = [
        [kind, _code(k["key"], 80), k["elements"], k["bytes"]] for kind, k in evidence.get("top_by_type", {}).items()
    ]
    scanned = "{} keys scanned of {} in {} s".format(
        evidence.get("scanned_keys"), evidence.get("dbsize"), evidence.get("scan_seconds")
    )
    return (
        [scanned, ""]
        + _table(["key", "type", "elements", "bytes"], rows)
        + ["", "Biggest of each type (by elements):", ""]
        + _table(["type", "key", "elements", "bytes"], per_type)
    )


def _evidence_queue_backlog(evidence):
    states = ("wait", "active", "delayed", "prioritized", "paused", "failed", "completed")
    rows = [
        [_cell(q["queue"]), *[q.get(state) for state in states], q.get("status")] for q in evidence.get("queues", [])
    ]
    return _table(["queue", *states, "status"], rows)


EVIDENCE_RENDERERS = {
    "redis_latency": _evidence_redis_latency,
    "redis_memory": _evidence_redis_memory,
    "redis_slowlog": _evidence_redis_slowlog,
    "redis_bigkeys": _evidence_redis_bigkeys,
    "queue_backlog": _evidence_queue_backlog,
    "pg_activity": _evidence_activity,
    "pg_long_queries": _evidence_long_queries,
    "pg_blocking_locks": _evidence_blocking_locks,
    "pg_pool_usage": _evidence_pool_usage,
    "pg_cache_hit": _evidence_cache_hit,
    "pg_index_candidates": _evidence_index_candidates,
    "pg_top_queries": _evidence_top_queries,
}


def render_evidence(record):
    renderer = EVIDENCE_RENDERERS.get(record["check"])
    if renderer:
        return renderer(record.get("evidence") or {})
    text = json.dumps(record.get("evidence"), indent=2, sort_keys=True, default=str)
    return ["```json", text[:4000], "```"]


def _header(report):
    incident = report["incident"]
    counts = ", ".join(f"{n} {status}" for status, n in report["counts"].items() if n)
    return [
        f"# Incident {incident['id']}: performance degradation",
        "",
        f"- Alert: {_cell(incident.get('alert')) or 'none given'}",
        f"- Started: {incident['started_at']}, opened by {_cell(incident.get('opened_by'))}",
        f"- Report: {report['phase']} phase, generated {report['generated_at']}",
        f"- Overall: **{_BADGE[report['status']]}** ({counts or 'no checks'})",
        "",
    ]


def _findings_section(report):
    lines = ["## Findings", ""]
    if not report["findings"]:
        return lines + ["No check is above its warning threshold.", ""]
    rows = [
        [
            _BADGE[f["status"]],
            _cell(f["host"]),
            f["check"],
            format_value(f["value"], f["unit"]),
            _cell(f["summary"], 240),
        ]
        for f in report["findings"]
    ]
    return lines + _table(["status", "host", "check", "value", "evidence"], rows) + [""]


def _host_section(entry):
    lines = [f"### {entry['host']} ({entry['role']}): {_BADGE[entry['status']]}", ""]
    if entry.get("error"):
        lines += [f"{_cell(entry['error'], 500)}", ""]
    if not entry["checks"]:
        return lines
    rows = [
        [
            r["check"],
            _BADGE[r["status"]],
            format_value(r["value"], r["unit"]),
            format_threshold(r.get("threshold")),
            _cell(r.get("summary"), 240),
        ]
        for r in entry["checks"]
    ]
    lines += _table(["check", "status", "value", "threshold", "summary"], rows) + [""]
    for record in entry["checks"]:
        if record["status"] in ("warning", "critical"):
            source = (record.get("threshold") or {}).get("source")
            lines += [f"#### {record['check']}: {_BADGE[record['status']]}", "", _cell(record["summary"], 400), ""]
            if source:
                lines += [f"Threshold {record['threshold']['name']} ({_cell(source, 300)}).", ""]
            lines += render_evidence(record) + [""]
        for note in record.get("notes") or []:
            lines += [f"> note ({record['check']}): {_cell(note, 400)}", ""]
    return lines


def _timeline_section(report):
    rows = [[e["at"], _cell(e.get("who")), e.get("phase"), _cell(e.get("what"), 200)] for e in report["timeline"]]
    return ["## Timeline", ""] + _table(["at", "who", "phase", "what"], rows) + [""]


def render_markdown(report):
    lines = _header(report) + _findings_section(report) + ["## Checks by host", ""]
    for entry in report["hosts"]:
        lines += _host_section(entry)
    lines += _timeline_section(report)
    return "\n".join(lines).rstrip() + "\n"
