"""Each Redis module against the lab's real Redis, as the monitoring ACL user (read-only, password)."""

from __future__ import annotations

import importlib
import os
import re
import subprocess

import pytest

REDIS_MODULES = ["redis_latency", "redis_memory", "redis_slowlog", "redis_bigkeys", "queue_backlog"]


def load(name):
    return importlib.import_module(name)


@pytest.fixture(scope="session")
def redis_login(lab):
    settings = lab.settings()
    return {
        "login_host": "127.0.0.1",
        "login_port": settings["redis_port"],
        "login_user": settings["redis_monitor_user"],
        "login_password": lab.read_secret("redis_monitor"),
    }


def redis_cli_biggest(lab, flag):
    """What redis-cli --bigkeys / --memkeys name as the biggest key of each type: {type: key}."""
    settings = lab.settings()
    environment = dict(os.environ, REDISCLI_AUTH=lab.read_secret("redis_monitor"))
    output = subprocess.run(
        [
            "redis-cli",
            "-h",
            "127.0.0.1",
            "-p",
            str(settings["redis_port"]),
            "--user",
            settings["redis_monitor_user"],
            "--no-auth-warning",
            flag,
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    # redis-cli 7 prints names quoted twice: Biggest   hash found '"session:large-key"' has 100000 fields
    found = re.findall(r"Biggest\s+(\w+)\s+found\s+(.+?)\s+has\s", output)
    return {kind: key.strip("'\"") for kind, key in found}


def test_a_healthy_redis_gives_no_warning(clean_lab, redis_login, module_runner):
    result = module_runner(load("redis_diagnose"), {**redis_login, "thresholds": {"redis_latency_ms": {"warning": 5}}})
    statuses = {record["check"]: record["status"] for record in result["checks"]}
    assert statuses == dict.fromkeys(statuses, "ok"), result["checks"]
    assert len(statuses) == 5


def test_the_injected_big_keys_are_the_top_entries_with_their_sizes(clean_lab, redis_login, module_runner):
    fault = clean_lab.inject("redis-big-keys")
    result = module_runner(load("redis_bigkeys"), redis_login)
    assert not result.failed, result
    evidence = result["check"]["evidence"]
    injected = {key["key"]: key for key in fault["big_keys"]}
    top_four = evidence["top_by_memory"][:4]
    assert {row["key"] for row in top_four} == set(injected)
    for row in top_four:
        assert row["type"] == injected[row["key"]]["type"]
        assert row["elements"] == injected[row["key"]]["elements"]
        assert row["bytes"] > 0
    assert result["check"]["value"] == top_four[0]["bytes"]
    assert evidence["complete"] is True
    assert evidence["scanned_keys"] == evidence["dbsize"]


def test_the_top_key_of_each_type_is_the_one_redis_cli_names(clean_lab, redis_login, module_runner):
    clean_lab.inject("redis-big-keys")
    result = module_runner(load("redis_bigkeys"), redis_login)
    ours = {kind: row["key"] for kind, row in result["check"]["evidence"]["top_by_type"].items()}
    theirs = redis_cli_biggest(clean_lab, "--bigkeys")
    assert theirs, "redis-cli --bigkeys named no key"
    for kind, key in theirs.items():
        assert ours[kind] == key, kind


def test_slow_log_entries_carry_the_command_and_a_duration_in_ms(clean_lab, redis_login, module_runner):
    fault = clean_lab.inject("redis-slow-commands")
    result = module_runner(load("redis_slowlog"), redis_login)
    evidence = result["check"]["evidence"]
    commands = {entry["command"] for entry in evidence["entries"]}
    expected = {command["command"].split()[0].upper() for command in fault["commands"]}
    assert expected <= commands
    assert {"KEYS", "HGETALL", "SMEMBERS"} <= set(evidence["offenders"])
    for entry in evidence["entries"]:
        if entry["command"] in expected:
            assert entry["duration_ms"] >= 10
            assert entry["client_name"] == "lab-fault:redis-slow-commands"
    assert result["check"]["status"] in ("warning", "critical")


def test_slow_log_is_not_reset_in_check_mode(clean_lab, redis_login, module_runner):
    clean_lab.inject("redis-slow-commands")
    first = module_runner(load("redis_slowlog"), {**redis_login, "reset_after_read": True}, check_mode=True)
    assert first["changed"] is False
    again = module_runner(load("redis_slowlog"), redis_login)
    assert len(again["check"]["evidence"]["entries"]) == len(first["check"]["evidence"]["entries"])
    reset = module_runner(load("redis_slowlog"), {**redis_login, "reset_after_read": True})
    assert reset["changed"] is True
    assert module_runner(load("redis_slowlog"), redis_login)["check"]["evidence"]["entries"] == []


def test_the_queue_backlog_equals_the_jobs_pushed(clean_lab, redis_login, module_runner):
    fault = clean_lab.inject("queue-backlog")
    result = module_runner(load("queue_backlog"), redis_login)
    queues = {queue["queue"]: queue for queue in result["check"]["evidence"]["queues"]}
    for name, counts in fault["queues"].items():
        for state, count in counts.items():
            assert queues[name][state] == count, (name, state)
    assert result["check"]["value"] == fault["queues"]["email-notifications"]["active"]
    assert result["check"]["status"] == "warning"  # 60 active: over the runbook's 50


def test_injected_latency_shows_in_p99(clean_lab, redis_login, module_runner):
    fault = clean_lab.inject("redis-latency")
    result = module_runner(load("redis_latency"), {**redis_login, "samples": 100})
    evidence = result["check"]["evidence"]
    assert evidence["p99_ms"] >= fault["hold_ms"] / 2
    assert evidence["p50_ms"] < evidence["p99_ms"]
    assert result["check"]["status"] == "critical"


def test_a_wrong_password_is_one_clear_line_without_the_password(lab, redis_login, module_runner):
    for name in REDIS_MODULES:
        result = module_runner(load(name), {**redis_login, "login_password": "not-the-password"})
        assert result.failed
        assert "invalid username-password pair" in result["msg"] and "\n" not in result["msg"]
        assert result["error_kind"] == "auth"
        assert "not-the-password" not in str(result)
        assert redis_login["login_password"] not in str(result)


def test_an_unreachable_port_is_one_clear_line(redis_login, module_runner):
    result = module_runner(load("redis_latency"), {**redis_login, "login_port": 1})
    assert result.failed and "Connection refused" in result["msg"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"samples": 0}, "samples must be between 1 and 10000, got 0"),
        (
            {"thresholds": {"redis_latency_ms": {"warning": -1}}},
            "threshold redis_latency_ms.warning must not be negative",
        ),
        ({"login_port": 70000}, "login_port must be between 1 and 65535, got 70000"),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(redis_login, module_runner, override, message):
    result = module_runner(load("redis_latency"), {**redis_login, **override})
    assert result.failed and message in result["msg"]
