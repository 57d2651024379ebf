"""The wiring every pg_* module shares: argument spec, input checks, connect, run checks, close.

A module file holds its documentation and says which check(s) it runs; everything else is here,
so the single-purpose modules and the pg_diagnose collector behave alike.
"""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.perf_input import bound_problems, threshold_problems
from ansible.module_utils.perf_pg_checks import DEFAULT_OPTIONS, PG_CHECKS, pool_exhausted_record, run_check
from ansible.module_utils.perf_postgres import (
    PSYCOPG2_IMPORT_ERROR,
    PgConnectError,
    connect,
    connection_problems,
    describe_target,
    one_line,
    postgres_argument_spec,
    server_facts,
)
from ansible.module_utils.perf_result import failed_record
from ansible.module_utils.perf_thresholds import RUNBOOK_THRESHOLDS, thresholds_for

# Options a check reads, with their types; each module exposes the ones its check uses.
OPTION_SPECS = {
    "query_length": {"type": "int", "default": DEFAULT_OPTIONS["query_length"]},
    "limit": {"type": "int", "default": DEFAULT_OPTIONS["limit"]},
    "min_duration_seconds": {"type": "float"},
    "min_table_rows": {"type": "int", "default": DEFAULT_OPTIONS["min_table_rows"]},
    "min_seq_read_share": {"type": "float", "default": DEFAULT_OPTIONS["min_seq_read_share"]},
    "min_full_scans": {"type": "float", "default": DEFAULT_OPTIONS["min_full_scans"]},
    "statements_per_table": {"type": "int", "default": DEFAULT_OPTIONS["statements_per_table"]},
    "order_by": {"type": "str", "default": "total_time", "choices": ["total_time", "mean_time", "calls"]},
    "min_calls": {"type": "int", "default": DEFAULT_OPTIONS["min_calls"]},
    "exclude_own_statements": {"type": "bool", "default": True},
}

# (option, smallest allowed, largest allowed): bounds keep a diagnosis cheap whatever it is asked.
_OPTION_BOUNDS = (
    ("query_length", 1, 100000),
    ("limit", 1, 1000),
    ("min_duration_seconds", 0, None),
    ("min_table_rows", 0, None),
    ("min_seq_read_share", 0, 1),
    ("min_full_scans", 0, None),
    ("statements_per_table", 1, 1000),
    ("min_calls", 1, None),
)


def module_argument_spec(option_names):
    """Connection options, thresholds, and the named check options."""
    spec = postgres_argument_spec()
    spec["thresholds"] = {"type": "dict", "default": {}}
    for name in option_names:
        spec[name] = dict(OPTION_SPECS[name])
    return spec


def input_problems(params):
    """Every problem with the module's input, as one-line messages; nothing is sent while there are any."""
    return (
        connection_problems(params)
        + threshold_problems(params.get("thresholds"))
        + bound_problems(params, _OPTION_BOUNDS)
    )


def check_options(params):
    options = dict(DEFAULT_OPTIONS)
    options.update({name: params[name] for name in OPTION_SPECS if name in params and params[name] is not None})
    return options


def fail_on_bad_input(module):
    if PSYCOPG2_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("psycopg2-binary"), exception=PSYCOPG2_IMPORT_ERROR)
    problems = input_problems(module.params)
    if problems:
        module.fail_json(msg="; ".join(problems))


def all_thresholds(params):
    return thresholds_for(RUNBOOK_THRESHOLDS, params.get("thresholds"))


def run_checks(params, names):
    """Run the named checks over one connection. Never raises: a check that cannot run is a failed record.

    When the server refuses us because every slot is taken, that is pool exhaustion: the pool check
    says so as a critical finding, the others fail with the reason. When the connection is lost or
    the server stops answering midway, the checks not yet run fail with that reason at once."""
    thresholds = all_thresholds(params)
    options = check_options(params)
    target = describe_target(params)
    try:
        connection = connect(params)
    except PgConnectError as error:
        return [_record_for_connect_error(name, error, thresholds, target) for name in names], error
    records = []
    try:
        facts = server_facts(connection)
    except Exception as error:  # noqa: BLE001 - the first query failing must not end the run
        lost = PgConnectError("lost", f"{target}: {one_line(error)}")
        return [_record_for_connect_error(name, lost, thresholds, target) for name in names], lost
    try:
        for name in names:
            records.append(run_check(name, connection, facts, thresholds, options, target))
            if connection.closed or records[-1].get("connection_lost"):
                lost = PgConnectError("lost", f"connection lost during {name}: {records[-1]['error']}")
                records += [
                    _record_for_connect_error(other, lost, thresholds, target) for other in names[len(records) :]
                ]
                break
    finally:
        connection.close()
    for record in records:
        record.pop("connection_lost", None)
    return records, None


def _record_for_connect_error(name, error, thresholds, target):
    if name == "pool_usage" and error.kind == "too_many_connections":
        return pool_exhausted_record(thresholds, error.message, target=target)
    threshold_names = PG_CHECKS[name][1]
    threshold = thresholds[threshold_names[0]] if threshold_names else None
    return failed_record(f"pg_{name}", error.message, target=target, threshold=threshold)


def run_single_check_module(module, name):
    """main() of a single-purpose module: one check, a clear failure when it cannot run."""
    fail_on_bad_input(module)
    (record,), connect_error = run_checks(module.params, [name])
    if record["status"] == "failed":
        module.fail_json(
            msg=record["error"], check=record, error_kind=connect_error.kind if connect_error else "check_failed"
        )
    return record
