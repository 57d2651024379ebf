"""The incident and incident_report modules on a real folder: ids, append-only timeline, check mode."""

import json

import incident
import incident_report


def open_incident(module_runner, store, check_mode=False, **extra):
    args = {"store": str(store), "alert": "HighResponseTime", "operator": "oncall", **extra}
    return module_runner(incident, args, check_mode)


def test_opens_an_incident_with_an_id_and_a_first_timeline_event(module_runner, tmp_path):
    result = open_incident(module_runner, tmp_path)
    assert result["changed"] and result["created"]
    folder = tmp_path / result["incident"]["id"]
    assert json.loads((folder / "incident.json").read_text())["alert"] == "HighResponseTime"
    (event,) = [json.loads(line) for line in (folder / "timeline.jsonl").read_text().splitlines()]
    assert (event["who"], event["what"]) == ("oncall", "incident opened: HighResponseTime")


def test_finds_the_same_incident_by_id_without_changing_it(module_runner, tmp_path):
    opened = open_incident(module_runner, tmp_path)
    found = open_incident(module_runner, tmp_path, incident_id=opened["incident"]["id"])
    assert found["changed"] is False and found["incident"] == opened["incident"]


def test_events_are_appended_in_order(module_runner, tmp_path):
    incident_id = open_incident(module_runner, tmp_path)["incident"]["id"]
    for what in ("first action", "second action"):
        module_runner(
            incident,
            {
                "store": str(tmp_path),
                "incident_id": incident_id,
                "state": "event",
                "phase": "resolve",
                "what": what,
                "details": {"pids": [1, 2]},
            },
        )
    lines = (tmp_path / incident_id / "timeline.jsonl").read_text().splitlines()
    assert [json.loads(line)["what"] for line in lines][1:] == ["first action", "second action"]


def test_check_mode_writes_nothing(module_runner, tmp_path):
    result = open_incident(module_runner, tmp_path, check_mode=True)
    assert result["incident"]["id"].startswith("INC-")
    assert list(tmp_path.iterdir()) == []


def test_a_malformed_incident_id_is_one_clear_line(module_runner, tmp_path):
    result = open_incident(module_runner, tmp_path, incident_id="../../etc; rm -rf /")
    assert result.failed
    assert result["msg"] == "incident_id '../../etc; rm -rf /' is not of the form INC-YYYYMMDD-HHMMSS-xxxx"
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_incident_is_named_in_the_error(module_runner, tmp_path):
    result = open_incident(module_runner, tmp_path, incident_id="INC-20990101-000000-beef")
    assert result["msg"] == f"no incident INC-20990101-000000-beef in the incident store {tmp_path}"


def test_the_report_is_written_and_its_timeline_ends_with_the_report_event(module_runner, tmp_path):
    incident_id = open_incident(module_runner, tmp_path)["incident"]["id"]
    checks = [
        {
            "check": "pg_long_queries",
            "status": "critical",
            "value": 9.0,
            "unit": "s",
            "threshold": None,
            "evidence": {"queries": [{"pid": 77, "query": "SELECT 1"}]},
            "summary": "pid 77",
            "error": None,
            "target": None,
            "notes": [],
        }
    ]
    sources = [{"role": "db", "hosts": ["db1"], "results": [{"checks": checks}]}]
    result = module_runner(incident_report, {"store": str(tmp_path), "incident_id": incident_id, "sources": sources})
    assert result["status"] == "critical"
    report = json.loads((tmp_path / incident_id / "report.json").read_text())
    assert report["timeline"][-1]["what"] == "diagnose report written"
    assert "| 77 |" in (tmp_path / incident_id / "report.md").read_text()


def test_a_report_source_without_role_is_refused(module_runner, tmp_path):
    incident_id = open_incident(module_runner, tmp_path)["incident"]["id"]
    result = module_runner(
        incident_report, {"store": str(tmp_path), "incident_id": incident_id, "sources": [{"hosts": ["db1"]}]}
    )
    assert result.failed and result["msg"] == "sources[0] needs a role"
    assert not (tmp_path / incident_id / "report.json").exists()
