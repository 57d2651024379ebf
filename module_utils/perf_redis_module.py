"""The wiring every redis_* module shares: argument spec, input checks, connect, run checks, close."""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.perf_input import bound_problems, threshold_problems
from ansible.module_utils.perf_redis import (
    REDIS_IMPORT_ERROR,
    RedisConnectError,
    connect,
    connection_problems,
    describe_target,
    redis_argument_spec,
)
from ansible.module_utils.perf_redis_checks import CHECK_NAMES, DEFAULT_OPTIONS, REDIS_CHECKS, run_check
from ansible.module_utils.perf_result import failed_record
from ansible.module_utils.perf_thresholds import RUNBOOK_THRESHOLDS, thresholds_for

OPTION_SPECS = {
    "samples": {"type": "int", "default": DEFAULT_OPTIONS["samples"]},
    "interval_ms": {"type": "int", "default": DEFAULT_OPTIONS["interval_ms"]},
    "fragmentation_limit": {"type": "float", "default": DEFAULT_OPTIONS["fragmentation_limit"]},
    "slowlog_entries": {"type": "int", "default": DEFAULT_OPTIONS["slowlog_entries"]},
    "reset_after_read": {"type": "bool", "default": False},
    "pattern": {"type": "str", "default": DEFAULT_OPTIONS["pattern"]},
    "scan_count": {"type": "int", "default": DEFAULT_OPTIONS["scan_count"]},
    "max_keys": {"type": "int", "default": DEFAULT_OPTIONS["max_keys"]},
    "throttle_ms": {"type": "int", "default": DEFAULT_OPTIONS["throttle_ms"]},
    "memory_samples": {"type": "int", "default": DEFAULT_OPTIONS["memory_samples"]},
    "top": {"type": "int", "default": DEFAULT_OPTIONS["top"]},
    "queue_prefix": {"type": "str", "default": DEFAULT_OPTIONS["queue_prefix"]},
    "queues": {"type": "list", "elements": "str", "default": []},
}

_OPTION_BOUNDS = (
    ("samples", 1, 10000),
    ("interval_ms", 0, 1000),
    ("fragmentation_limit", 1, 100),
    ("slowlog_entries", 1, 10000),
    ("scan_count", 1, 100000),
    ("max_keys", 1, 100000000),
    ("throttle_ms", 0, 1000),
    ("memory_samples", 0, 1000),
    ("top", 1, 1000),
)


def module_argument_spec(option_names):
    spec = redis_argument_spec()
    spec["thresholds"] = {"type": "dict", "default": {}}
    for name in option_names:
        spec[name] = dict(OPTION_SPECS[name])
    return spec


def input_problems(params):
    problems = (
        connection_problems(params)
        + threshold_problems(params.get("thresholds"))
        + bound_problems(params, _OPTION_BOUNDS)
    )
    if params.get("queue_prefix") is not None and not params["queue_prefix"].strip():
        problems.append("queue_prefix must not be empty")
    return problems


def fail_on_bad_input(module):
    if REDIS_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("redis"), exception=REDIS_IMPORT_ERROR)
    problems = input_problems(module.params)
    if problems:
        module.fail_json(msg="; ".join(problems))


def check_options(params):
    options = dict(DEFAULT_OPTIONS)
    options.update({name: params[name] for name in OPTION_SPECS if params.get(name) is not None})
    return options


def run_checks(params, names, check_mode=False):
    """Run the named checks over one client. Never raises: a check that cannot run is a failed record."""
    thresholds = thresholds_for(RUNBOOK_THRESHOLDS, params.get("thresholds"))
    options = check_options(params)
    # A reset is a change: never in check mode.
    options["reset_after_read"] = options["reset_after_read"] and not check_mode
    target = describe_target(params)
    try:
        client = connect(params)
    except RedisConnectError as error:
        records = [
            failed_record(
                CHECK_NAMES[name], error.message, target=target, threshold=thresholds[REDIS_CHECKS[name][1][0]]
            )
            for name in names
        ]
        return records, error
    try:
        return [run_check(name, client, thresholds, options, target) for name in names], None
    finally:
        client.close()


def run_single_check_module(module, name):
    fail_on_bad_input(module)
    (record,), connect_error = run_checks(module.params, [name], module.check_mode)
    if record["status"] == "failed":
        module.fail_json(
            msg=record["error"], check=record, error_kind=connect_error.kind if connect_error else "check_failed"
        )
    return record
