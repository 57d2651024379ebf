"""The diagnosis playbook against the lab, one fault at a time: the report must name the fault's evidence."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import ROOT
from tests.integration.conftest import db_checks, latest_report, run_playbook


def wait_for_query_age(lab, pid, seconds, timeout=20):
    """Wait until a statement has run long enough to cross a threshold (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = lab._query(
            "SELECT extract(epoch FROM now() - query_start) AS age FROM pg_stat_activity WHERE pid = %s", (pid,)
        )
        if rows and rows[0]["age"] >= seconds:
            return
        time.sleep(0.2)
    raise AssertionError(f"pid {pid} did not reach {seconds} s")


@pytest.fixture
def store(tmp_path):
    return tmp_path / "incidents"


def test_a_healthy_lab_reports_ok_with_no_finding(clean_lab, store):
    run_playbook("playbooks/diagnose.yml", store)
    report, _ = latest_report(store)
    assert report["status"] == "ok"
    assert report["findings"] == []
    assert len(db_checks(report)) == 7


def test_report_names_the_long_query_pid_and_its_duration(clean_lab, store):
    fault = clean_lab.inject("long-query")
    wait_for_query_age(clean_lab, fault["pid"], 5)
    run_playbook("playbooks/diagnose.yml", store)
    report, folder = latest_report(store)
    record = db_checks(report)["pg_long_queries"]
    assert record["status"] == "critical"
    (query,) = [q for q in record["evidence"]["queries"] if q["pid"] == fault["pid"]]
    assert query["query_seconds"] >= 5
    assert record["value"] >= 5
    assert f"pid {fault['pid']}" in record["summary"]
    markdown = (folder / "report.md").read_text()
    assert f"| {fault['pid']} |" in markdown


def test_report_names_the_blocked_and_blocking_pids(clean_lab, store):
    fault = clean_lab.inject("blocking-lock")
    run_playbook("playbooks/diagnose.yml", store)
    report, folder = latest_report(store)
    record = db_checks(report)["pg_blocking_locks"]
    assert sorted(b["pid"] for b in record["evidence"]["blocked"]) == sorted(fault["blocked_pids"])
    assert record["evidence"]["root_blockers"][0]["pid"] == fault["blocking_pid"]
    assert f"root blocker pid {fault['blocking_pid']}" in record["summary"]
    assert record["status"] in ("warning", "critical")
    markdown = (folder / "report.md").read_text()
    assert "Root blockers:" in markdown and f"| {fault['blocking_pid']} |" in markdown


def test_report_shows_pool_utilization_over_80_percent(clean_lab, store):
    clean_lab.inject("connection-flood")
    run_playbook("playbooks/diagnose.yml", store)
    report, _ = latest_report(store)
    record = db_checks(report)["pg_pool_usage"]
    assert record["value"] > 80
    assert record["status"] == "critical"
    assert report["findings"][0]["status"] == "critical"
    assert "pg_pool_usage" in [finding["check"] for finding in report["findings"]]


def test_report_names_patient_created_at_as_the_top_index_candidate(clean_lab, store):
    clean_lab.inject("missing-index")
    run_playbook("playbooks/diagnose.yml", store)
    report, folder = latest_report(store)
    record = db_checks(report)["pg_index_candidates"]
    top = record["evidence"]["tables"][0]
    assert (top["table"], [c["column"] for c in top["columns"]]) == ("Patient", ["createdAt"])
    assert record["summary"].startswith('"Patient"."createdAt": 500000-row table read by sequential scans')
    assert record["value"] == top["live_rows"] == 500000
    # The fault's 30 requests each read the whole table; the last backends may not have flushed their counters.
    assert top["full_scans"] >= 10
    assert '"Patient"."createdAt"' in (folder / "report.md").read_text()


def test_a_database_that_is_down_is_a_failed_check_with_the_reason_and_the_run_goes_on(clean_lab, store):
    run_playbook("playbooks/diagnose.yml", store, "-e", "db_diagnose_login_port=1")
    report, _ = latest_report(store)
    records = db_checks(report)
    assert {record["status"] for record in records.values()} == {"failed"}
    assert "Connection refused" in records["pg_long_queries"]["error"]
    assert report["status"] == "failed"


def test_an_unreachable_host_is_reported_and_the_other_hosts_are_still_diagnosed(clean_lab, store, tmp_path):
    # The lab's inventory plus a database host nobody answers for (loopback, closed port).
    (tmp_path / "group_vars").symlink_to(ROOT / "inventories/lab/group_vars")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  children:\n    db:\n      hosts:\n        lab-db:\n"
        "        db-unreachable:\n          ansible_connection: ssh\n          ansible_host: 127.0.0.9\n"
        "          ansible_port: 1\n"
    )
    result = run_playbook(
        "playbooks/diagnose.yml",
        store,
        inventory=inventory,
        check=False,
        env={"PERF_LAB_STATE": clean_lab.settings()["state_dir"]},
    )
    report, _ = latest_report(store)
    hosts = {entry["host"]: entry for entry in report["hosts"]}
    assert hosts["db-unreachable"]["reachable"] is False, result.stdout
    assert hosts["db-unreachable"]["status"] == "failed"
    assert "port 1" in hosts["db-unreachable"]["error"]
    assert hosts["lab-db"]["status"] == "ok", report["findings"]
    assert len(hosts["lab-db"]["checks"]) == 7


def test_the_password_never_appears_in_output_even_at_vvv(clean_lab, store):
    password = clean_lab.read_secret("monitor")
    result = run_playbook("playbooks/diagnose.yml", store, "-vvv")
    assert password not in result.stdout
    assert password not in result.stderr
    _, folder = latest_report(store)
    for path in folder.rglob("*"):
        if path.is_file():
            assert password not in path.read_text(), path


def test_the_whole_runbook_keeps_one_incident_and_its_timeline_in_order(clean_lab, store):
    run_playbook("playbooks/performance_degradation.yml", store, "-e", "incident_alert=HighCPUUsage")
    assert len(list(store.glob("INC-*"))) == 1
    report, folder = latest_report(store)
    assert report["incident"]["alert"] == "HighCPUUsage"
    events = [json.loads(line) for line in (folder / "timeline.jsonl").read_text().splitlines()]
    assert [event["what"] for event in events] == ["incident opened: HighCPUUsage", "diagnose report written"]
    assert events[0]["at"] <= events[1]["at"]


def test_a_later_phase_finds_the_incident_by_its_id(clean_lab, store):
    run_playbook("playbooks/acknowledge.yml", store)
    (folder,) = store.glob("INC-*")
    run_playbook("playbooks/diagnose.yml", store, "-e", f"incident_id={folder.name}")
    assert list(store.glob("INC-*")) == [folder]
    report = json.loads((folder / "report.json").read_text())
    assert report["incident"]["id"] == folder.name


def test_an_unknown_incident_id_fails_with_one_clear_line(clean_lab, store):
    store.mkdir()
    result = run_playbook("playbooks/diagnose.yml", store, "-e", "incident_id=INC-20990101-000000-beef", check=False)
    assert result.returncode != 0
    assert f"no incident INC-20990101-000000-beef in the incident store {store}" in result.stdout


def test_a_diagnosis_task_that_fails_still_ends_in_a_report_that_says_why(clean_lab, store):
    result = run_playbook("playbooks/diagnose.yml", store, "-e", "db_diagnose_limit=0")
    report, _ = latest_report(store)
    assert report["findings"][0]["check"] == "db_diagnosis"
    assert "limit must be between 1 and 1000, got 0" in report["findings"][0]["summary"]
    assert "Report:" in result.stdout


def test_a_threshold_left_empty_in_the_site_overrides_is_refused_not_silently_ignored(clean_lab, store):
    run_playbook(
        "playbooks/diagnose.yml", store, "-e", '{"perf_thresholds_site": {"pg_long_query_seconds": {"warning": null}}}'
    )
    report, _ = latest_report(store)
    assert "threshold pg_long_query_seconds.warning must be a number, got None" in report["findings"][0]["summary"]


def test_a_misnamed_host_group_is_named_in_the_findings(clean_lab, store):
    run_playbook("playbooks/diagnose.yml", store, "-e", "perf_db_group=postgres")
    report, _ = latest_report(store)
    assert report["status"] == "failed"
    assert "inventory group 'postgres' has no hosts" in report["findings"][0]["summary"]


def test_every_report_is_kept_in_the_incident_history(clean_lab, store):
    run_playbook("playbooks/acknowledge.yml", store)
    (folder,) = store.glob("INC-*")
    clean_lab.inject("connection-flood")
    run_playbook("playbooks/diagnose.yml", store, "-e", f"incident_id={folder.name}")
    clean_lab.clear_all()
    time.sleep(1)  # history files are named by the second they were written
    run_playbook("playbooks/diagnose.yml", store, "-e", f"incident_id={folder.name}")
    history = sorted((folder / "history").glob("*.json"))
    assert len(history) == 2
    assert json.loads(history[0].read_text())["status"] == "critical"
    assert json.loads(history[1].read_text())["status"] == "ok"


def redis_checks(report):
    (redis,) = [host for host in report["hosts"] if host["role"] == "redis"]
    return {record["check"]: record for record in redis["checks"]}


def test_report_names_the_big_keys_and_the_overloaded_queue(clean_lab, store):
    big = clean_lab.inject("redis-big-keys")
    queues = clean_lab.inject("queue-backlog")
    run_playbook("playbooks/diagnose.yml", store)
    report, folder = latest_report(store)
    records = redis_checks(report)
    bigkeys = records["redis_bigkeys"]
    assert bigkeys["status"] == "critical"
    injected = {key["key"] for key in big["big_keys"]}
    assert bigkeys["evidence"]["top_by_memory"][0]["key"] in injected
    queue = records["queue_backlog"]
    assert queue["status"] == "warning"
    assert queue["value"] == queues["queues"]["email-notifications"]["active"] == 60
    assert queue["summary"].startswith("queue email-notifications: 60 active, 1200 waiting")
    markdown = (folder / "report.md").read_text()
    assert "session:large-key" in markdown and "email-notifications" in markdown
