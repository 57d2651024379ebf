"""What the lab's Redis faults put into Redis and take out again; labctl.py registers them in FAULTS.

Each function takes a redis-py client connected as the default user (labctl.redis_connect()), with
decode_responses=True. Keys are built in chunks of CHUNK elements per command, so no single command
blocks the server for long, and never with KEYS: clear finds keys with SCAN and deletes them with UNLINK
(the server frees big values in the background).

    redis-big-keys       ~20,000 small keys and four big ones (a hash, a list, a set, an 8 MB string)
    redis-slow-commands  scratch keys under lab:slow:, then KEYS / HGETALL / SMEMBERS / LRANGE 0 -1 on them
    queue-backlog        two Bull / BullMQ queues under the prefix bull:, one with a backlog

The redis-latency fault is a process (fault_worker.py), not data: labctl.py handles it alone.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterable, Iterator

CHUNK = 1000  # elements per command: ~2 ms each on this kind of machine, far under the 10 ms slow-log threshold
PIPELINE_BATCH = 50  # commands per round trip: bounds the client's buffer
SCAN_COUNT = 1000
FAULT_CLIENT_PREFIX = "lab-fault:"


class FaultNotInPlace(Exception):
    """The fault was built but Redis does not show it (e.g. a command stayed under the slow-log threshold)."""


# --------------------------------------------------------------------------- shared helpers


def _chunks(count: int, size: int = CHUNK) -> Iterator[range]:
    for start in range(0, count, size):
        yield range(start, min(count, start + size))


def _run_pipelined(client, commands: Iterable[tuple]) -> None:
    """Send commands in batches without MULTI: a transaction would block the server for the whole build."""
    pipe = client.pipeline(transaction=False)
    for number, command in enumerate(commands, start=1):
        pipe.execute_command(*command)
        if number % PIPELINE_BATCH == 0:
            pipe.execute()
    pipe.execute()


def _unlink(client, keys: Iterable[str]) -> int:
    """UNLINK in chunks; returns how many keys existed."""
    batch, removed = [], 0
    for key in keys:
        batch.append(key)
        if len(batch) == CHUNK:
            removed += client.unlink(*batch)
            batch = []
    if batch:
        removed += client.unlink(*batch)
    return removed


def _scan(client, match: str) -> Iterator[str]:
    return client.scan_iter(match=match, count=SCAN_COUNT)


@contextlib.contextmanager
def slowlog_paused(client):
    """The lab's own building and measuring (MEMORY USAGE of a 200,000-member set takes ~35 ms) must not
    show up in the slow log a diagnosis reads, as labctl's PostgreSQL sessions stay out of
    pg_stat_statements. Logging is off only for this block; the previous threshold comes back after."""
    previous = client.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"]
    if previous == "-1":  # already off (another labctl in this block, or on purpose): leave it alone
        yield
        return
    client.config_set("slowlog-log-slower-than", -1)
    try:
        yield
    finally:
        client.config_set("slowlog-log-slower-than", previous)


def fault_client_name(fault: str) -> str:
    return FAULT_CLIENT_PREFIX + fault


# --------------------------------------------------------------------------- redis-big-keys

SESSION_KEYS = 10_000
PATIENT_KEYS = 10_000
SMALL_KEY_PATTERNS = {"session:*": re.compile(r"^session:\d+$"), "patient:*": re.compile(r"^patient:\d+$")}
SESSION_TTL_S = 86_400  # sessions expire in production; a day outlives any test
REPORT_BYTES = 8 * 1024 * 1024
# name: (type, elements), built by the function named in _BIG_KEY_BUILDERS
BIG_KEYS = {
    "session:large-key": ("hash", 100_000),
    "log:events": ("list", 300_000),
    "online:users": ("set", 200_000),
    "cache:report:monthly": ("string", REPORT_BYTES),
}
LENGTH_COMMANDS = {"hash": "HLEN", "list": "LLEN", "set": "SCARD", "zset": "ZCARD", "string": "STRLEN"}


def _session_value(number: int) -> str:
    """~100 bytes of JSON, the size of a typical serialized web session."""
    return json.dumps(
        {"userId": number, "role": "clinician", "csrf": f"{number * 2654435761 % 2**64:016x}", "exp": 1767225600},
        separators=(",", ":"),
    ).ljust(100)


def _small_key_commands() -> Iterator[tuple]:
    for number in range(1, SESSION_KEYS + 1):
        yield ("SET", f"session:{number}", _session_value(number), "EX", SESSION_TTL_S)
    for number in range(1, PATIENT_KEYS + 1):
        fields = {"firstName": "Ana", "lastName": "Garcia", "email": f"patient{number}@example.test", "clinic": "7"}
        yield ("HSET", f"patient:{number}", *[item for pair in fields.items() for item in pair])


def _large_session_commands(key: str, fields: int) -> Iterator[tuple]:
    """A session that grew without bound: one field per page view, never trimmed."""
    for chunk in _chunks(fields):
        pairs = [(f"view:{n}", f"/patients/{n % 5000}/appointments") for n in chunk]
        yield ("HSET", key, *[item for pair in pairs for item in pair])


def _event_log_commands(key: str, elements: int) -> Iterator[tuple]:
    """An audit list appended to with RPUSH and never trimmed with LTRIM."""
    for chunk in _chunks(elements):
        yield ("RPUSH", key, *[f'{{"ts":{1764547200 + n},"type":"login","userId":{n % 5000}}}' for n in chunk])


def _online_users_commands(key: str, members: int) -> Iterator[tuple]:
    for chunk in _chunks(members):
        yield ("SADD", key, *[f"user:{n}" for n in chunk])


def _report_commands(key: str, size: int) -> Iterator[tuple]:
    """A cached report stored as one 8 MB CSV string."""
    line = "2026-11-01,clinic-07,appointments,completed,1234,no_show,56\n"
    body = (line * (size // len(line) + 1))[:size]
    yield ("SET", key, body)


_BIG_KEY_BUILDERS = {
    "session:large-key": _large_session_commands,
    "log:events": _event_log_commands,
    "online:users": _online_users_commands,
    "cache:report:monthly": _report_commands,
}


def _small_keys(client) -> Iterator[str]:
    """Exactly the small keys this fault creates: session:<n> and patient:<n>, found with SCAN."""
    for match, exact in SMALL_KEY_PATTERNS.items():
        yield from (key for key in _scan(client, match) if exact.match(key))


def _describe_big_key(client, key: str) -> dict:
    kind = client.type(key)
    length = client.execute_command(LENGTH_COMMANDS[kind], key)
    return {
        "key": key,
        "type": kind,
        "elements": length,  # fields, elements, members; for the string its length in bytes
        "length_command": LENGTH_COMMANDS[kind],
        "memory_usage_bytes": client.memory_usage(key, samples=0),
    }


def inject_big_keys(client) -> dict:
    started = time.monotonic()
    clear_big_keys(client)  # a half-built or half-cleared keyspace would give wrong counts
    with slowlog_paused(client):
        _run_pipelined(client, _small_key_commands())
        for key, (_kind, size) in BIG_KEYS.items():
            _run_pipelined(client, _BIG_KEY_BUILDERS[key](key, size))
        big_keys = [_describe_big_key(client, key) for key in BIG_KEYS]
        small_keys = sum(1 for _key in _small_keys(client))
    return {
        "fault": "redis-big-keys",
        "big_keys": big_keys,
        "small_keys": small_keys,
        "small_key_patterns": {"session:<n>": "string, ~100 bytes, 1-day TTL", "patient:<n>": "hash, 4 fields"},
        "dbsize": client.dbsize(),
        "build_seconds": round(time.monotonic() - started, 2),
    }


def clear_big_keys(client) -> dict:
    big_removed = client.unlink(*BIG_KEYS)
    small_removed = _unlink(client, list(_small_keys(client)))
    return {"cleared": "redis-big-keys", "big_keys_removed": big_removed, "small_keys_removed": small_removed}


def big_keys_active(client) -> bool:
    return client.exists(*BIG_KEYS) == len(BIG_KEYS)


# --------------------------------------------------------------------------- redis-slow-commands

SLOW_PREFIX = "lab:slow:"
SLOW_STRING_KEYS = 150_000  # KEYS walks the whole keyspace: ~0.3 us a key, so ~45 ms
SLOW_HASH = (SLOW_PREFIX + "hash", 100_000)  # HGETALL ~45 ms server time
SLOW_SET = (SLOW_PREFIX + "set", 150_000)  # SMEMBERS ~50 ms
SLOW_LIST = (SLOW_PREFIX + "list", 500_000)  # LRANGE 0 -1 ~35-50 ms: list elements are the cheapest to reply
SLOW_CLIENT = fault_client_name("redis-slow-commands")
# The runbook's known offenders, each against the scratch key it needs.
OFFENDERS = (
    ("KEYS", SLOW_PREFIX + "*"),
    ("HGETALL", SLOW_HASH[0]),
    ("SMEMBERS", SLOW_SET[0]),
    ("LRANGE", SLOW_LIST[0], "0", "-1"),
)


def _scratch_commands() -> Iterator[tuple]:
    for chunk in _chunks(SLOW_STRING_KEYS):
        yield ("MSET", *[item for n in chunk for item in (f"{SLOW_PREFIX}key:{n}", f"value-{n}")])
    hash_key, fields = SLOW_HASH
    for chunk in _chunks(fields):
        yield ("HSET", hash_key, *[item for n in chunk for item in (f"field:{n}", f"value-{n}")])
    set_key, members = SLOW_SET
    for chunk in _chunks(members):
        yield ("SADD", set_key, *[f"member:{n}" for n in chunk])
    list_key, elements = SLOW_LIST
    for chunk in _chunks(elements):
        yield ("RPUSH", list_key, *[f"element:{n}" for n in chunk])


def _run_offender(client, command: tuple) -> dict:
    started = time.monotonic()
    reply = client.execute_command(*command)
    return {
        "command": " ".join(command),
        "key": command[1],
        "reply_elements": len(reply),
        "client_ms": round((time.monotonic() - started) * 1000, 1),
    }


def _slowlog_entries_of(client, client_name: str) -> list[dict]:
    return [entry for entry in client.slowlog_get(1024) if _text(entry.get("client_name")) == client_name]


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value or "")


def _attach_slowlog_durations(client, runs: list[dict]) -> list[str]:
    """Add each command's slow-log duration (server side); return the commands missing from the slow log."""
    logged = {_text(entry["command"]): entry["duration"] for entry in _slowlog_entries_of(client, SLOW_CLIENT)}
    missing = []
    for run in runs:
        run["slowlog_us"] = logged.get(run["command"])
        if run["slowlog_us"] is None:
            missing.append(run["command"])
    return missing


def inject_slow_commands(client, offender_client) -> dict:
    """offender_client: protocol 2, named SLOW_CLIENT, so the slow-log entries carry the fault's name."""
    clear_slow_keys(client)
    with slowlog_paused(client):
        _run_pipelined(client, _scratch_commands())
    runs = [_run_offender(offender_client, command) for command in OFFENDERS]
    threshold = int(client.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"])
    missing = _attach_slowlog_durations(client, runs)
    if missing:
        clear_slow_commands(client)
        raise FaultNotInPlace(
            f"not in the slow log (threshold {threshold} us): {', '.join(missing)}; "
            f"client-side {', '.join(str(run['client_ms']) + ' ms' for run in runs)}"
        )
    return {
        "fault": "redis-slow-commands",
        "client_name": SLOW_CLIENT,
        "slowlog_threshold_us": threshold,
        "scratch_keys": {
            f"{SLOW_PREFIX}key:<n>": SLOW_STRING_KEYS,
            SLOW_HASH[0]: SLOW_HASH[1],
            SLOW_SET[0]: SLOW_SET[1],
            SLOW_LIST[0]: SLOW_LIST[1],
        },
        "commands": runs,
    }


def clear_slow_keys(client) -> int:
    return _unlink(client, list(_scan(client, SLOW_PREFIX + "*")))


def _slowlog_has_fault_entries(client) -> bool:
    return any(_text(entry.get("client_name")).startswith(FAULT_CLIENT_PREFIX) for entry in client.slowlog_get(1024))


def clear_slow_commands(client) -> dict:
    """Scratch keys go; the slow log is reset only when it holds entries of the lab's faults (this one's or
    redis-latency's DEBUG SLEEP), so clearing a fault that is not there leaves someone else's slow log alone."""
    removed = clear_slow_keys(client)
    reset = removed > 0 or _slowlog_has_fault_entries(client)
    if reset:
        client.slowlog_reset()
    return {"cleared": "redis-slow-commands", "scratch_keys_removed": removed, "slowlog_reset": reset}


def slow_commands_active(client) -> bool:
    return bool(client.exists(SLOW_HASH[0])) and bool(_slowlog_entries_of(client, SLOW_CLIENT))


# --------------------------------------------------------------------------- queue-backlog

QUEUE_PREFIX = "bull"
STATE_KINDS = {
    "wait": "list",
    "active": "list",
    "paused": "list",
    "delayed": "zset",
    "failed": "zset",
    "completed": "zset",
    "prioritized": "zset",
}
# Jobs per state, in the order their ids were handed out (oldest first). "paused" stays empty, and Redis
# keeps no empty list, so that key does not exist: LLEN answers 0, as on a real queue that is not paused.
QUEUES = {
    "email-notifications": {
        "job_name": "send-email",
        "states": {"completed": 500, "failed": 15, "active": 60, "wait": 1200, "prioritized": 10, "delayed": 30},
    },
    "sms": {"job_name": "send-sms", "states": {"completed": 40, "active": 1, "wait": 3}},
}
BACKLOG_QUEUE = "email-notifications"
JOB_OPTS = json.dumps({"attempts": 3, "backoff": {"type": "exponential", "delay": 5000}}, separators=(",", ":"))
SMTP_ERROR = "connect ETIMEDOUT 10.20.0.15:587"


def _queue_key(queue: str, suffix) -> str:
    return f"{QUEUE_PREFIX}:{queue}:{suffix}"


def _job_fields(queue: str, job_id: int, state: str, created_ms: int) -> dict:
    """The hash Bull / BullMQ keeps per job at <prefix>:<queue>:<id>."""
    data = {"to": f"patient{job_id}@example.test", "template": "appointment-reminder", "appointmentId": job_id}
    fields = {
        "name": QUEUES[queue]["job_name"],
        "data": json.dumps(data, separators=(",", ":")),
        "opts": JOB_OPTS,
        "timestamp": created_ms,
        "delay": 0,
        "priority": 0,
        "attemptsMade": 0,
    }
    if state in ("active", "completed", "failed"):
        fields["processedOn"] = created_ms + 2_000
    if state == "completed":
        fields.update(finishedOn=created_ms + 3_000, attemptsMade=1, returnvalue=json.dumps({"accepted": True}))
    if state == "failed":
        stacktrace = json.dumps([f"Error: {SMTP_ERROR}\n    at TCPConnectWrap.afterConnect"])
        fields.update(finishedOn=created_ms + 9_000, attemptsMade=3, failedReason=SMTP_ERROR, stacktrace=stacktrace)
    if state == "delayed":
        fields["delay"] = 600_000
    if state == "prioritized":
        fields["priority"] = 1 + job_id % 3
    return fields


def _state_entry(state: str, job_id: int, fields: dict) -> tuple:
    """The command that files a job id under its state, scored as the libraries score it."""
    if state in ("wait", "active", "paused"):
        return ("LPUSH", state, job_id)  # LPUSH in, RPOPLPUSH out: the oldest job sits at the right end
    if state == "delayed":
        return ("ZADD", state, (fields["timestamp"] + fields["delay"]) * 0x1000 + (job_id & 0xFFF), job_id)
    if state == "prioritized":
        return ("ZADD", state, fields["priority"] * 0x100000000 + job_id, job_id)
    return ("ZADD", state, fields["finishedOn"], job_id)  # completed, failed: by finish time


def _queue_commands(queue: str, now_ms: int) -> Iterator[tuple]:
    """Jobs created one every 2 s up to now, oldest first: the backlog's oldest waiting job is ~40 min old."""
    plan = [state for state, count in QUEUES[queue]["states"].items() for _ in range(count)]
    for job_id, state in enumerate(plan, start=1):
        created_ms = now_ms - (len(plan) - job_id) * 2_000
        fields = _job_fields(queue, job_id, state, created_ms)
        yield ("HSET", _queue_key(queue, job_id), *[item for pair in fields.items() for item in pair])
        command, state_name, *arguments = _state_entry(state, job_id, fields)
        yield (command, _queue_key(queue, state_name), *arguments)
    yield ("SET", _queue_key(queue, "id"), len(plan))
    yield ("HSET", _queue_key(queue, "meta"), "opts.maxLenEvents", 10_000, "version", "bullmq:5.34.0")


def _state_counts(client, queue: str) -> dict:
    """Jobs per state, read back as a diagnosis reads them (LLEN / ZCARD)."""
    pipe = client.pipeline(transaction=False)
    for state, kind in STATE_KINDS.items():
        (pipe.llen if kind == "list" else pipe.zcard)(_queue_key(queue, state))
    return dict(zip(STATE_KINDS, pipe.execute(), strict=True))


def _job_hash_count(client, queue: str) -> int:
    return sum(1 for key in _scan(client, _queue_key(queue, "*")) if key.rsplit(":", 1)[1].isdigit())


def inject_queue_backlog(client) -> dict:
    clear_queue_backlog(client)
    now_ms = int(time.time() * 1000)
    with slowlog_paused(client):
        for queue in QUEUES:
            _run_pipelined(client, _queue_commands(queue, now_ms))
    return {
        "fault": "queue-backlog",
        "prefix": QUEUE_PREFIX,
        "backlog_queue": BACKLOG_QUEUE,
        "queues": {queue: _state_counts(client, queue) for queue in QUEUES},
        "job_hashes": {queue: _job_hash_count(client, queue) for queue in QUEUES},
    }


def _queue_keys(client) -> list[str]:
    """Exactly the keys of the lab's queues: SCAN bull:*, keep <prefix>:<one of QUEUES>:..."""
    return [key for key in _scan(client, QUEUE_PREFIX + ":*") if key.split(":", 2)[1] in QUEUES]


def clear_queue_backlog(client) -> dict:
    return {"cleared": "queue-backlog", "keys_removed": _unlink(client, _queue_keys(client))}


def queue_backlog_active(client) -> bool:
    """In place while the backlog queue still has the injected waiting and active jobs (a drained queue is not)."""
    states = QUEUES[BACKLOG_QUEUE]["states"]
    waiting = client.llen(_queue_key(BACKLOG_QUEUE, "wait"))
    active = client.llen(_queue_key(BACKLOG_QUEUE, "active"))
    return waiting >= states["wait"] and active >= states["active"]
