"""Each PostgreSQL module against the lab's real server, as the monitoring role (pg_monitor, not superuser)."""

from __future__ import annotations

import importlib

import pytest

PG_MODULES = [
    "pg_activity",
    "pg_long_queries",
    "pg_blocking_locks",
    "pg_pool_usage",
    "pg_cache_hit",
    "pg_index_candidates",
    "pg_top_queries",
    "pg_diagnose",
]


def load(name):
    return importlib.import_module(name)


def our_sessions(lab):
    rows = lab._query("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE 'perf-runbook%%'")
    return rows[0]["n"]


def test_long_queries_names_the_pid_and_duration_of_the_long_statement(clean_lab, pg_login, module_runner):
    fault = clean_lab.inject("long-query")
    result = module_runner(load("pg_long_queries"), {**pg_login, "min_duration_seconds": 0})
    assert not result.failed, result
    pids = [query["pid"] for query in result["queries"]]
    assert fault["pid"] in pids
    (entry,) = [query for query in result["queries"] if query["pid"] == fault["pid"]]
    assert entry["query_seconds"] > 0
    assert "pg_sleep" in entry["query"]
    assert result["changed"] is False


def test_long_queries_runs_the_same_in_check_mode(clean_lab, pg_login, module_runner):
    fault = clean_lab.inject("long-query")
    result = module_runner(load("pg_long_queries"), {**pg_login, "min_duration_seconds": 0}, check_mode=True)
    assert fault["pid"] in [query["pid"] for query in result["queries"]]


def test_blocking_locks_names_blocked_and_root_blocking_pids_through_the_chain(clean_lab, pg_login, module_runner):
    fault = clean_lab.inject("blocking-lock")
    result = module_runner(load("pg_blocking_locks"), pg_login)
    assert not result.failed, result
    assert sorted(entry["pid"] for entry in result["blocked"]) == sorted(fault["blocked_pids"])
    assert [root["pid"] for root in result["root_blockers"]] == [fault["blocking_pid"]]
    assert result["root_blockers"][0]["blocks"] == len(fault["blocked_pids"])
    assert result["root_blockers"][0]["state"] == "idle in transaction"
    for entry in result["blocked"]:
        assert entry["chain"][-1] == fault["blocking_pid"]
        assert entry["root_blocking_pids"] == [fault["blocking_pid"]]
    # The second waiter queues behind the first: its chain has three links.
    assert max(len(entry["chain"]) for entry in result["blocked"]) == 3


def test_pool_usage_is_critical_over_80_percent_during_a_connection_flood(clean_lab, pg_login, module_runner):
    fault = clean_lab.inject("connection-flood")
    result = module_runner(load("pg_pool_usage"), pg_login)
    assert result["check"]["status"] == "critical"
    assert result["check"]["value"] > 80
    assert result["usage"]["idle_in_transaction"] >= fault["idle_in_transaction"]
    assert result["usage"]["max_connections"] == fault["max_connections"]
    holders = {(h["user"], h["application"]) for h in result["usage"]["top_holders"]}
    assert ("holi_app", "lab-fault:connection-flood") in holders


def test_pool_usage_reports_exhaustion_when_the_server_refuses_even_the_diagnosis(clean_lab, pg_login, module_runner):
    import psycopg2

    clean_lab.inject("connection-flood")
    settings = clean_lab.settings()
    held = []
    try:
        # Take every remaining non-superuser slot, as a leaking application would.
        while len(held) < 200:
            try:
                held.append(
                    psycopg2.connect(
                        host=settings["pg_host"],
                        port=settings["pg_port"],
                        dbname=settings["pg_db"],
                        user=settings["pg_app_user"],
                        password=clean_lab.read_secret("app"),
                        connect_timeout=3,
                    )
                )
            except psycopg2.OperationalError:
                break
        result = module_runner(load("pg_pool_usage"), pg_login)
    finally:
        for connection in held:
            connection.close()
    assert not result.failed, result
    assert result["check"]["status"] == "critical"
    assert result["check"]["value"] == 100.0
    assert (
        "too many clients" in result["check"]["evidence"]["connect_error"]
        or "reserved" in result["check"]["evidence"]["connect_error"]
    )


def test_index_candidates_names_patient_created_at_and_only_it(clean_lab, pg_login, module_runner):
    clean_lab.inject("missing-index")
    result = module_runner(load("pg_index_candidates"), pg_login)
    assert not result.failed, result
    top = result["tables"][0]
    assert top["table"] == "Patient"
    assert [column["column"] for column in top["columns"]] == ["createdAt"]
    assert top["columns"][0]["filter"] and top["columns"][0]["sort"] and top["columns"][0]["descending"]
    assert top["suggested_index"]["statement"] == 'CREATE INDEX CONCURRENTLY ON "public"."Patient" ("createdAt" DESC)'
    assert result["check"]["status"] == "critical"
    assert "Appointment" not in [table["table"] for table in result["tables"]]


def test_top_queries_names_the_slow_patients_statement(clean_lab, pg_login, module_runner):
    clean_lab.inject("missing-index")
    result = module_runner(load("pg_top_queries"), {**pg_login, "order_by": "mean_time"})
    slowest = result["statements"][0]
    assert '"Patient"' in slowest["query"] and '"createdAt"' in slowest["query"]
    assert slowest["user"] == "holi_app"
    assert result["check"]["value"] == slowest["mean_ms"]


def test_cache_hit_is_a_value_not_an_error_on_a_fresh_database(clean_lab, pg_login, module_runner):
    result = module_runner(load("pg_cache_hit"), pg_login)
    assert not result.failed
    assert result["check"]["status"] == "ok"
    assert result["ratio"] is None or result["ratio"] >= 95


def test_a_healthy_lab_gives_no_warning_from_any_check(clean_lab, pg_login, module_runner):
    result = module_runner(load("pg_diagnose"), pg_login)
    statuses = {record["check"]: record["status"] for record in result["checks"]}
    assert statuses == {name: "ok" for name in statuses}
    assert len(statuses) == 7


def test_the_collector_returns_failed_records_not_a_failure_when_the_server_is_down(pg_login, module_runner):
    result = module_runner(load("pg_diagnose"), {**pg_login, "login_port": 1, "connect_timeout": 2})
    assert not result.failed
    assert {record["status"] for record in result["checks"]} == {"failed"}
    assert "Connection refused" in result["checks"][0]["error"]


# ------------------------------------------------------------------ bad input: one clear line, nothing changed

BAD_INPUTS = [
    ({"login_db": 'holi"; DROP TABLE "Patient"; --'}, 'database "holi"; DROP TABLE "Patient"; --" does not exist'),
    ({"login_user": "perf_monitor'; --"}, "password authentication failed for user"),
    (
        {"thresholds": {"pg_long_query_seconds": {"warning": -1}}},
        "threshold pg_long_query_seconds.warning must not be negative, got -1",
    ),
    ({"thresholds": {"pg_long_query_secs": {"warning": 1}}}, "unknown threshold name(s): pg_long_query_secs"),
    ({"login_password": "wrong-password"}, 'password authentication failed for user "perf_monitor"'),
    ({"login_port": 1}, "Connection refused"),
    ({"login_port": 70000}, "login_port must be between 1 and 65535, got 70000"),
    ({"connect_timeout": 0}, "connect_timeout must be between 1 and 300, got 0"),
]


@pytest.mark.parametrize("module_name", [name for name in PG_MODULES if name != "pg_diagnose"])
@pytest.mark.parametrize(("override", "message"), BAD_INPUTS)
def test_bad_input_gets_one_clear_line_and_changes_nothing(
    lab, pg_login, module_runner, module_name, override, message
):
    rows_before = lab._query('SELECT count(*) AS n FROM "Patient"')[0]["n"]
    sessions_before = our_sessions(lab)
    result = module_runner(load(module_name), {**pg_login, **override})
    assert result.failed, result
    assert message in result["msg"]
    assert "\n" not in result["msg"]
    assert result.get("changed", False) is False
    assert lab._query('SELECT count(*) AS n FROM "Patient"')[0]["n"] == rows_before
    assert our_sessions(lab) == sessions_before  # no session left behind


@pytest.mark.parametrize("module_name", ["pg_long_queries", "pg_index_candidates", "pg_diagnose"])
def test_negative_options_are_refused_before_anything_is_sent(pg_login, module_runner, module_name):
    result = module_runner(load(module_name), {**pg_login, "limit": -5})
    assert result.failed
    assert result["msg"] == "limit must be between 1 and 1000, got -5"


def test_the_password_never_appears_in_module_output(lab, pg_login, module_runner):
    result = module_runner(load("pg_diagnose"), pg_login)
    assert pg_login["login_password"] not in str(result)
    failed = module_runner(load("pg_long_queries"), {**pg_login, "login_port": 1})
    assert pg_login["login_password"] not in str(failed)


def test_a_role_without_connect_privilege_gets_failed_checks_that_name_the_permission(lab, pg_login, module_runner):
    lab._query("DROP ROLE IF EXISTS perf_stranger; CREATE ROLE perf_stranger LOGIN PASSWORD 'stranger-pw'")
    try:
        result = module_runner(
            load("pg_diagnose"), {**pg_login, "login_user": "perf_stranger", "login_password": "stranger-pw"}
        )
    finally:
        lab._query("DROP ROLE IF EXISTS perf_stranger")
    assert not result.failed
    assert {record["status"] for record in result["checks"]} == {"failed"}
    assert 'permission denied for database "holi_protocol"' in result["checks"][0]["error"]


def test_a_database_without_pg_stat_statements_fails_that_check_alone(clean_lab, pg_login, module_runner):
    result = module_runner(load("pg_diagnose"), {**pg_login, "login_db": "postgres"})
    statuses = {record["check"]: record["status"] for record in result["checks"]}
    assert statuses.pop("pg_top_queries") == "failed"
    assert set(statuses.values()) == {"ok"}
    (top,) = [record for record in result["checks"] if record["check"] == "pg_top_queries"]
    assert top["error"].startswith("pg_stat_statements is not installed in this database")


def test_activity_counts_every_non_idle_session_not_only_those_shown(clean_lab, pg_login, module_runner):
    fault = clean_lab.inject("connection-flood")
    result = module_runner(load("pg_activity"), {**pg_login, "limit": 5})
    assert len(result["sessions"]) == 5
    assert result["check"]["value"] >= fault["idle_in_transaction"] > 5
    assert result["check"]["summary"].endswith("(5 shown)")


def test_blocking_locks_finds_the_real_root_even_when_fewer_sessions_are_shown(clean_lab, pg_login, module_runner):
    fault = clean_lab.inject("blocking-lock")
    result = module_runner(load("pg_blocking_locks"), {**pg_login, "limit": 1})
    assert len(result["blocked"]) == 1
    assert result["check"]["evidence"]["total_blocked"] == 2
    assert [root["pid"] for root in result["root_blockers"]] == [fault["blocking_pid"]]
    assert result["root_blockers"][0]["blocks"] == 2
    assert "2 session(s) blocked (1 shown)" in result["check"]["summary"]
