import pytest
from ansible.module_utils.perf_redis import classify_error, describe_target, redis_argument_spec
from ansible.module_utils.perf_redis_checks import (
    group_by_command,
    latency_summary,
    memory_notes,
    offence,
    parse_slowlog_entries,
    percentile,
)


def test_percentiles_use_the_nearest_rank():
    samples = list(range(1, 101))
    assert percentile(samples, 0.50) == 50
    assert percentile(samples, 0.99) == 99
    assert percentile([7.0], 0.99) == 7.0


def test_two_slow_round_trips_in_a_hundred_show_in_p99_not_in_p95_or_p50():
    summary = latency_summary([0.1] * 98 + [30.0, 31.0])
    assert (summary["p50_ms"], summary["p95_ms"], summary["p99_ms"], summary["max_ms"]) == (0.1, 0.1, 30.0, 31.0)


def test_parses_the_six_field_slowlog_layout_of_redis_4_and_later():
    raw = [[12, 1700000000, 15234, [b"KEYS", b"lab:slow:*"], b"127.0.0.1:50000", b"lab-fault"]]
    (entry,) = parse_slowlog_entries(raw)
    assert entry == {
        "id": 12,
        "timestamp": 1700000000,
        "duration_ms": 15.234,
        "command": "KEYS",
        "args": ["KEYS", "lab:slow:*"],
        "client": "127.0.0.1:50000",
        "client_name": "lab-fault",
    }


def test_parses_the_four_field_slowlog_layout_of_older_servers():
    (entry,) = parse_slowlog_entries([[3, 1500000000, 20000, [b"hgetall", b"session:large-key"]]])
    assert (entry["command"], entry["duration_ms"], entry["client"], entry["client_name"]) == (
        "HGETALL",
        20.0,
        None,
        None,
    )


def test_keys_that_are_not_utf8_do_not_break_the_parser():
    (entry,) = parse_slowlog_entries([[1, 1, 10000, [b"GET", b"\xff\xfe"]]])
    assert entry["args"][1] == "\\xff\\xfe"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["KEYS", "*"], "scans the whole keyspace (use SCAN)"),
        (["SMEMBERS", "online:users"], "reads a whole set (use SSCAN)"),
        (["LRANGE", "log:events", "0", "-1"], "reads a whole list or sorted set (bound the range)"),
        (["LRANGE", "log:events", "0", "99"], None),
        (["GET", "x"], None),
    ],
)
def test_flags_the_runbooks_known_offenders(args, expected):
    assert offence({"command": args[0], "args": args}) == expected


def test_groups_slow_commands_by_total_time():
    entries = parse_slowlog_entries(
        [[1, 1, 10000, [b"KEYS", b"*"]], [2, 1, 30000, [b"KEYS", b"*"]], [3, 1, 20000, [b"HGETALL", b"h"]]]
    )
    groups = group_by_command(entries)
    assert [(g["command"], g["count"], g["total_ms"], g["max_ms"]) for g in groups] == [
        ("KEYS", 2, 40.0, 30.0),
        ("HGETALL", 1, 20.0, 20.0),
    ]


def test_memory_notes_name_evictions_and_missing_maxmemory():
    notes = memory_notes({"evicted_keys": 12.0, "maxmemory": 0, "used_memory": 1000}, 1.5)
    assert "12 keys evicted since start: maxmemory is being hit" in notes
    assert "maxmemory is not set: Redis can grow until the host runs out of memory" in notes


def test_password_is_declared_no_log_and_never_in_the_target():
    assert redis_argument_spec()["login_password"]["no_log"] is True
    params = {name: spec.get("default") for name, spec in redis_argument_spec().items()}
    params.update(login_user="perf_monitor", login_password="s3cret")
    assert describe_target(params) == "redis://perf_monitor@127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("WRONGPASS invalid username-password pair or user is disabled.", "auth"),
        ("Error 111 connecting to 127.0.0.1:1. Connection refused.", "unreachable"),
        ("Timeout reading from socket", "timeout"),
        ("NOPERM User perf_monitor has no permissions to run the 'keys' command", "permission"),
    ],
)
def test_names_the_kind_of_redis_error(message, kind):
    assert classify_error(Exception(message))[0] == kind
