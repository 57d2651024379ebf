"""Redis and job-queue diagnostic checks: plain functions from a client to one check record.

Every command is bounded: no KEYS, no whole reads of values (lengths and MEMORY USAGE only), SCAN with
COUNT and a cap on keys, socket timeouts on every call.
"""

from __future__ import annotations

import time

from ansible.module_utils.perf_redis import classify_error, text
from ansible.module_utils.perf_result import classify, failed_record, make_record, worst_status

# ---------------------------------------------------------------- pure helpers


def percentile(samples, fraction):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(samples)
    rank = max(1, int(round(fraction * len(ordered) + 0.4999)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(samples_ms):
    return {
        "samples": len(samples_ms),
        "min_ms": round(min(samples_ms), 3),
        "avg_ms": round(sum(samples_ms) / len(samples_ms), 3),
        "p50_ms": round(percentile(samples_ms, 0.50), 3),
        "p95_ms": round(percentile(samples_ms, 0.95), 3),
        "p99_ms": round(percentile(samples_ms, 0.99), 3),
        "max_ms": round(max(samples_ms), 3),
    }


def parse_slowlog_entries(raw):
    """SLOWLOG GET entries as dicts, whatever the server's layout: Redis before 4.0 returns four fields
    (id, timestamp, microseconds, arguments), later servers add the client address and name."""
    entries = []
    for item in raw or []:
        entry = {
            "id": int(item[0]),
            "timestamp": int(item[1]),
            "duration_ms": round(int(item[2]) / 1000.0, 3),
            "command": text(item[3][0]).upper() if item[3] else "",
            "args": [text(arg)[:128] for arg in item[3][:32]],
            "client": text(item[4]) if len(item) > 4 else None,
            "client_name": (text(item[5]) or None) if len(item) > 5 else None,
        }
        entries.append(entry)
    return entries


# The runbook's known offenders, and why each is slow.
OFFENDERS = {
    "KEYS": "scans the whole keyspace (use SCAN)",
    "HGETALL": "reads a whole hash (use HMGET / HSCAN)",
    "SMEMBERS": "reads a whole set (use SSCAN)",
    "FLUSHALL": "deletes every key while blocking",
    "FLUSHDB": "deletes every key of a database while blocking",
}


def offence(entry):
    """Why a slow-log entry is a known offender, or None."""
    command = entry["command"]
    if command in OFFENDERS:
        return OFFENDERS[command]
    if command in ("LRANGE", "ZRANGE", "ZREVRANGE") and len(entry["args"]) >= 4 and entry["args"][3] == "-1":
        return "reads a whole list or sorted set (bound the range)"
    return None


def group_by_command(entries):
    groups = {}
    for entry in entries:
        group = groups.setdefault(
            entry["command"],
            {"command": entry["command"], "count": 0, "total_ms": 0.0, "max_ms": 0.0, "offender": offence(entry)},
        )
        group["count"] += 1
        group["total_ms"] = round(group["total_ms"] + entry["duration_ms"], 3)
        group["max_ms"] = max(group["max_ms"], entry["duration_ms"])
    return sorted(groups.values(), key=lambda g: -g["total_ms"])


def info_number(info, name, default=None):
    value = info.get(name, default)
    try:
        return float(value) if isinstance(value, str) else value
    except ValueError:
        return default


# ---------------------------------------------------------------- checks


def check_latency(client, thresholds, options):
    """N round trips, like redis-cli --latency (runbook: under 1 ms normal, over 10 ms bad).

    Graded on p95: with a few dozen samples p99 is the second-slowest round trip, and one scheduling
    hiccup of the host running the check would page someone; a server that stalls often moves p95."""
    threshold = thresholds["redis_latency_ms"]
    samples = []
    for index in range(options["samples"]):
        started = time.perf_counter()
        client.ping()
        samples.append((time.perf_counter() - started) * 1000.0)
        if options["interval_ms"] and index + 1 < options["samples"]:
            time.sleep(options["interval_ms"] / 1000.0)
    summary = latency_summary(samples)
    return make_record(
        "redis_latency",
        classify(summary["p95_ms"], threshold),
        value=summary["p95_ms"],
        unit="ms",
        threshold=threshold,
        evidence=summary,
        summary=(
            f"PING p95 {summary['p95_ms']} ms, p99 {summary['p99_ms']} ms, p50 {summary['p50_ms']} ms, "
            f"max {summary['max_ms']} ms "
            f"over {summary['samples']} round trips"
        ),
    )


_MEMORY_FIELDS = (
    "used_memory",
    "used_memory_peak",
    "used_memory_rss",
    "mem_fragmentation_ratio",
    "maxmemory",
    "maxmemory_policy",
    "used_memory_human",
)
_STATS_FIELDS = ("evicted_keys", "expired_keys", "rejected_connections", "instantaneous_ops_per_sec")
_CLIENT_FIELDS = ("connected_clients", "blocked_clients")


def memory_notes(evidence, fragmentation_limit):
    notes = []
    ratio = evidence.get("mem_fragmentation_ratio")
    if isinstance(ratio, (int, float)) and ratio > fragmentation_limit and evidence.get("used_memory", 0) > 100e6:
        notes.append(f"fragmentation ratio {ratio} over {fragmentation_limit}: RSS well above what data needs")
    if evidence.get("evicted_keys"):
        notes.append(f"{int(evidence['evicted_keys'])} keys evicted since start: maxmemory is being hit")
    if evidence.get("blocked_clients"):
        notes.append(f"{int(evidence['blocked_clients'])} clients blocked (BLPOP and the like)")
    if not evidence.get("maxmemory"):
        notes.append("maxmemory is not set: Redis can grow until the host runs out of memory")
    return notes


def check_memory(client, thresholds, options):
    """INFO memory, stats and clients: used against maxmemory, with what else matters as notes."""
    threshold = thresholds["redis_memory_percent"]
    info = {}
    for section in ("memory", "stats", "clients"):
        info.update(client.info(section))
    evidence = {name: info_number(info, name) for name in _MEMORY_FIELDS + _STATS_FIELDS + _CLIENT_FIELDS}
    evidence["maxmemory_policy"] = info.get("maxmemory_policy")
    evidence["used_memory_human"] = info.get("used_memory_human")
    maxmemory = evidence.get("maxmemory") or 0
    used_percent = round(100.0 * evidence["used_memory"] / maxmemory, 1) if maxmemory else None
    evidence["used_percent"] = used_percent
    summary = f"used {evidence['used_memory_human']}" + (
        f" of maxmemory ({used_percent} %), policy {evidence['maxmemory_policy']}" if maxmemory else ", no maxmemory"
    )
    return make_record(
        "redis_memory",
        classify(used_percent, threshold),
        value=used_percent,
        unit="%",
        threshold=threshold,
        evidence=evidence,
        summary=summary,
        notes=memory_notes(evidence, options["fragmentation_limit"]),
    )


def check_slowlog(client, thresholds, options):
    """The slow log, parsed and grouped by command, known offenders flagged; reset only when asked."""
    threshold = thresholds["redis_slowlog_ms"]
    entries = parse_slowlog_entries(client.execute_command("SLOWLOG", "GET", options["slowlog_entries"]))
    groups = group_by_command(entries)
    slowest = max(entries, key=lambda e: e["duration_ms"]) if entries else None
    value = slowest["duration_ms"] if slowest else 0.0
    offenders = sorted({g["command"] for g in groups if g["offender"]})
    summary = "the slow log is empty"
    if slowest:
        summary = f"{len(entries)} slow command(s), slowest {slowest['command']} {value} ms" + (
            f"; known offenders: {', '.join(offenders)}" if offenders else ""
        )
    record = make_record(
        "redis_slowlog",
        classify(value, threshold),
        value=value,
        unit="ms",
        threshold=threshold,
        evidence={"entries": entries, "by_command": groups, "offenders": offenders},
        summary=summary,
    )
    if options.get("reset_after_read"):
        client.execute_command("SLOWLOG", "RESET")
        record["evidence"]["reset"] = True
    return record


_LENGTH_COMMANDS = {
    "string": "STRLEN",
    "hash": "HLEN",
    "list": "LLEN",
    "set": "SCARD",
    "zset": "ZCARD",
    "stream": "XLEN",
}


def _measure_batch(client, keys, options):
    """(key, type, elements, bytes) for a batch of keys: two pipelined round trips, no value read."""
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.type(key)
    types = [text(kind) for kind in pipe.execute(raise_on_error=False)]
    pipe = client.pipeline(transaction=False)
    measured = []
    for key, kind in zip(keys, types, strict=True):
        if kind in _LENGTH_COMMANDS:
            pipe.execute_command(_LENGTH_COMMANDS[kind], key)
            pipe.execute_command("MEMORY", "USAGE", key, "SAMPLES", options["memory_samples"])
            measured.append((key, kind))
    results = pipe.execute(raise_on_error=False)
    rows = []
    for index, (key, kind) in enumerate(measured):
        elements, size = results[2 * index], results[2 * index + 1]
        if isinstance(elements, Exception) or isinstance(size, Exception):
            continue  # deleted between SCAN and now, or not permitted: skip, do not fail the scan
        rows.append((text(key), kind, int(elements or 0), int(size or 0)))
    return rows


def _keep_top(top, row, limit, score):
    top.append(row)
    top.sort(key=score, reverse=True)
    del top[limit:]


def scan_keyspace(client, options):
    """SCAN with COUNT and a pattern, measuring each key, pausing between batches; stops at max_keys."""
    top_memory, top_by_type, scanned, cursor, started = [], {}, 0, 0, time.monotonic()
    while True:
        cursor, keys = client.scan(cursor=cursor, match=options["pattern"], count=options["scan_count"])
        for row in _measure_batch(client, keys, options) if keys else []:
            _keep_top(top_memory, row, options["top"], score=lambda r: r[3])
            best = top_by_type.get(row[1])
            if best is None or row[2] > best[2]:
                top_by_type[row[1]] = row
        scanned += len(keys)
        if cursor == 0 or scanned >= options["max_keys"]:
            break
        if options["throttle_ms"]:
            time.sleep(options["throttle_ms"] / 1000.0)
    return top_memory, top_by_type, scanned, cursor == 0, round(time.monotonic() - started, 3)


def _key_row(row):
    key, kind, elements, size = row
    return {"key": key, "type": kind, "elements": elements, "bytes": size}


def check_bigkeys(client, thresholds, options):
    """The biggest keys by memory, and the biggest of each type by element count (as redis-cli --bigkeys)."""
    threshold = thresholds["redis_big_key_bytes"]
    top_memory, top_by_type, scanned, complete, seconds = scan_keyspace(client, options)
    biggest = top_memory[0] if top_memory else None
    value = biggest[3] if biggest else 0
    evidence = {
        "top_by_memory": [_key_row(row) for row in top_memory],
        "top_by_type": {kind: _key_row(row) for kind, row in sorted(top_by_type.items())},
        "scanned_keys": scanned,
        "complete": complete,
        "dbsize": client.dbsize(),
        "scan_seconds": seconds,
    }
    summary = (
        "no key found"
        if not biggest
        else (
            f"biggest key {biggest[0]!r} ({biggest[1]}, {biggest[2]} elements, {biggest[3]} bytes) "
            f"among {scanned} keys scanned" + ("" if complete else " (stopped at max_keys)")
        )
    )
    notes = [] if complete else [f"scan stopped after {scanned} keys (max_keys); bigger keys may exist"]
    return make_record(
        "redis_bigkeys",
        classify(value, threshold),
        value=value,
        unit="bytes",
        threshold=threshold,
        evidence=evidence,
        summary=summary,
        notes=notes,
    )


# Bull and BullMQ: one key per job state under <prefix>:<queue>:<state>.
QUEUE_STATES = {
    "wait": "list",
    "active": "list",
    "paused": "list",
    "delayed": "zset",
    "failed": "zset",
    "completed": "zset",
    "prioritized": "zset",
}
_QUEUE_MARKERS = ("id", "meta", *QUEUE_STATES)


def discover_queues(client, prefix, max_keys, scan_count):
    """Queue names under a prefix, from the keys Bull lays out (SCAN, bounded; never KEYS)."""
    names = set()
    for seen, key in enumerate(client.scan_iter(match=f"{prefix}:*", count=scan_count), start=1):
        parts = text(key)[len(prefix) + 1 :].rsplit(":", 1)
        if len(parts) == 2 and parts[1] in _QUEUE_MARKERS:
            names.add(parts[0])
        if seen >= max_keys:
            break
    return sorted(names)


def queue_counts(client, prefix, name):
    pipe = client.pipeline(transaction=False)
    for state, kind in QUEUE_STATES.items():
        key = f"{prefix}:{name}:{state}"
        if kind == "list":
            pipe.llen(key)
        else:
            pipe.zcard(key)
    return dict(zip(QUEUE_STATES, (int(n) for n in pipe.execute()), strict=True))


def check_queue_backlog(client, thresholds, options):
    """Backlog of Bull / BullMQ queues: active over 50 means an overloaded worker (runbook)."""
    active_threshold, waiting_threshold = thresholds["queue_active_jobs"], thresholds["queue_waiting_jobs"]
    prefix = options["queue_prefix"]
    names = options["queues"] or discover_queues(client, prefix, options["max_keys"], options["scan_count"])
    queues = [{"queue": name, "prefix": prefix, **queue_counts(client, prefix, name)} for name in names]
    for queue in queues:
        queue["status"] = worst_status(
            [classify(queue["active"], active_threshold), classify(queue["wait"], waiting_threshold)]
        )
    queues.sort(key=lambda q: (-q["active"], -q["wait"]))
    busiest = queues[0] if queues else None
    summary = (
        f"no queue found under {prefix}:"
        if not queues
        else (
            f"queue {busiest['queue']}: {busiest['active']} active, {busiest['wait']} waiting, {busiest['delayed']} "
            f"delayed, {busiest['failed']} failed" + (f" ({len(queues)} queues)" if len(queues) > 1 else "")
        )
    )
    return make_record(
        "queue_backlog",
        worst_status(q["status"] for q in queues) if queues else "ok",
        value=busiest["active"] if busiest else 0,
        unit="jobs",
        threshold=active_threshold,
        evidence={"queues": queues, "waiting_threshold": waiting_threshold},
        summary=summary,
    )


REDIS_CHECKS = {
    "latency": (check_latency, ("redis_latency_ms",)),
    "memory": (check_memory, ("redis_memory_percent",)),
    "slowlog": (check_slowlog, ("redis_slowlog_ms",)),
    "bigkeys": (check_bigkeys, ("redis_big_key_bytes",)),
    "queue_backlog": (check_queue_backlog, ("queue_active_jobs", "queue_waiting_jobs")),
}

CHECK_NAMES = {
    "latency": "redis_latency",
    "memory": "redis_memory",
    "slowlog": "redis_slowlog",
    "bigkeys": "redis_bigkeys",
    "queue_backlog": "queue_backlog",
}

DEFAULT_OPTIONS = {
    "samples": 50,
    "interval_ms": 10,
    "fragmentation_limit": 1.5,
    "slowlog_entries": 128,
    "reset_after_read": False,
    "pattern": "*",
    "scan_count": 1000,
    "max_keys": 1000000,
    "throttle_ms": 0,
    "memory_samples": 5,
    "top": 10,
    "queue_prefix": "bull",
    "queues": [],
}


def run_check(name, client, thresholds, options, target):
    """Run one check; a Redis error becomes a failed record so the other checks go on."""
    function, threshold_names = REDIS_CHECKS[name]
    try:
        record = function(client, thresholds, options)
    except Exception as error:  # noqa: BLE001 - one failed check must not end the run
        record = failed_record(CHECK_NAMES[name], classify_error(error)[1], threshold=thresholds[threshold_names[0]])
    record["target"] = target
    return record
