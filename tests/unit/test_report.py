import json

import jsonschema
import pytest
from ansible.module_utils.perf_report import build_report, render_markdown
from ansible.module_utils.perf_result import make_record

INCIDENT = {
    "id": "INC-20261203-031500-a1b2",
    "started_at": "2026-12-03T03:15:00Z",
    "alert": "HighResponseTime",
    "opened_by": "oncall",
    "store": "/tmp/x",
    "path": "/tmp/x/INC-20261203-031500-a1b2",
}
LONG_QUERY_THRESHOLD = {
    "name": "pg_long_query_seconds",
    "warning": 1,
    "critical": 5,
    "direction": "above",
    "unit": "s",
    "source": "runbook",
}


@pytest.fixture(scope="module")
def schema(project_root):
    return json.loads((project_root / "docs/report-schema.json").read_text())


def long_query_record():
    return make_record(
        "pg_long_queries",
        "critical",
        value=42.0,
        unit="s",
        threshold=LONG_QUERY_THRESHOLD,
        evidence={"queries": [{"pid": 4242, "query_seconds": 42.0, "query": "SELECT a | b\nFROM t"}]},
        summary="1 statement(s) running over 1 s; longest pid 4242 for 42.0 s",
        target="postgresql://x",
    )


def build(sources):
    return build_report(INCIDENT, sources, {}, [], "diagnose")


def test_report_lists_a_critical_check_as_the_first_finding_and_matches_the_schema(schema):
    ok = make_record("pg_cache_hit", "ok", value=99.0, unit="%")
    report = build([{"role": "db", "hosts": ["db1"], "results": [{"checks": [ok, long_query_record()]}]}])
    jsonschema.validate(report, schema)
    assert report["status"] == "critical"
    assert report["findings"][0]["check"] == "pg_long_queries"
    assert report["findings"][0]["host"] == "db1"
    assert report["counts"]["critical"] == 1 and report["counts"]["ok"] == 1


def test_an_unreachable_host_is_failed_with_its_reason_and_the_others_go_on(schema):
    sources = [
        {
            "role": "db",
            "hosts": ["db1", "db2"],
            "results": [
                {"unreachable": True, "msg": "Failed to connect to the host via ssh"},
                {"checks": [long_query_record()]},
            ],
        }
    ]
    report = build(sources)
    jsonschema.validate(report, schema)
    db1, db2 = report["hosts"]
    assert (db1["status"], db1["reachable"]) == ("failed", False)
    assert "Failed to connect to the host via ssh" in db1["error"]
    assert db2["status"] == "critical"
    assert report["status"] == "critical"
    assert [(f["host"], f["status"]) for f in report["findings"]] == [("db2", "critical"), ("db1", "failed")]
    assert report["findings"][1]["check"] == "db_diagnosis"
    assert "Failed to connect to the host via ssh" in report["findings"][1]["summary"]


def test_a_host_without_result_is_skipped_not_ok_and_listed_among_the_findings():
    report = build([{"role": "db", "hosts": ["db1"], "results": [{}]}])
    assert report["hosts"][0]["status"] == "skipped"
    assert report["status"] == "skipped"
    assert report["findings"] == [
        {
            "host": "db1",
            "check": "db_diagnosis",
            "status": "skipped",
            "value": None,
            "unit": None,
            "threshold": None,
            "summary": "not diagnosed in this run (no result for this host)",
        }
    ]


def test_an_empty_host_group_is_a_failed_finding_that_names_the_group(schema):
    report = build([{"role": "db", "group": "postgres", "hosts": [], "results": []}])
    jsonschema.validate(report, schema)
    assert report["status"] == "failed"
    assert report["findings"][0]["summary"] == (
        "could not run: inventory group 'postgres' has no hosts: the db diagnosis did not run"
    )


def test_a_failed_module_becomes_a_failed_check_with_its_message(schema):
    report = build([{"role": "db", "hosts": ["db1"], "results": [{"failed": True, "msg": "psycopg2 missing"}]}])
    jsonschema.validate(report, schema)
    assert report["hosts"][0]["checks"][0]["error"] == "psycopg2 missing"
    assert report["findings"][0]["status"] == "failed"


def test_markdown_shows_the_pid_and_keeps_table_cells_whole():
    report = build([{"role": "db", "hosts": ["db1"], "results": [{"checks": [long_query_record()]}]}])
    markdown = render_markdown(report)
    assert "INC-20261203-031500-a1b2" in markdown
    assert "| 4242 |" in markdown
    assert "SELECT a \\| b FROM t" in markdown
    assert "warn ≥ 1 s, crit ≥ 5 s" in markdown


def test_console_lines_give_the_verdict_and_one_line_per_finding():
    from ansible.module_utils.perf_report import console_lines

    report = build([{"role": "db", "hosts": ["db1"], "results": [{"checks": [long_query_record()]}]}])
    assert console_lines(report) == [
        "Overall: CRITICAL for incident INC-20261203-031500-a1b2",
        "CRITICAL db1 pg_long_queries: 1 statement(s) running over 1 s; longest pid 4242 for 42.0 s",
    ]
    healthy = build([{"role": "db", "hosts": ["db1"], "results": [{"checks": [make_record("pg_cache_hit", "ok")]}]}])
    assert console_lines(healthy)[-1] == "No finding: every check is within its thresholds."
