#!/usr/bin/python
"""Ansible module: write the incident report (JSON and Markdown) from the diagnosis results."""

from __future__ import annotations

DOCUMENTATION = r"""
module: incident_report
short_description: Write the incident report from the registered results of the diagnosis roles
description:
  - Builds the report, one data structure whose schema is C(docs/report-schema.json), from the results the
    diagnosis roles registered on each host, and writes it as C(report.json) (the truth) and C(report.md)
    (a view of it) into the incident's folder in the store, and keeps a copy of each in C(history/) that
    later runs never overwrite.
  - Every check appears with its value, threshold, status and evidence. A host whose diagnosis could not run
    (unreachable, failed) appears as failed with the reason; a host with no result as skipped.
  - Appends a C(report written) event to the incident timeline first, so the report's timeline includes it.
  - Runs on the controller.
version_added: "1.0.0"
author: perf-runbook engineers
options:
  store:
    description: Folder of the incident store.
    type: path
    required: true
  incident_id:
    description: Id of the incident (opened by the M(incident) module).
    type: str
    required: true
  phase:
    description: Runbook phase the report closes.
    type: str
    default: diagnose
  sources:
    description:
      - One entry per diagnosis role, with C(role) (for example C(db)), C(hosts) (inventory names) and
        C(results) (what each host registered, same order; null or an empty dict when the host has none).
    type: list
    elements: dict
    required: true
  thresholds:
    description: The thresholds the run used, recorded in the report.
    type: dict
    default: {}
  formats:
    description: Files to write.
    type: list
    elements: str
    choices: [json, markdown]
    default: [json, markdown]
  operator:
    description: Who runs the report; defaults to the login that runs Ansible.
    type: str
attributes:
  check_mode:
    support: full
    description: In check mode the report is built and returned but nothing is written.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: report | Write the incident report
  incident_report:
    store: "{{ incident_store }}"
    incident_id: "{{ incident_id }}"
    sources:
      - role: db
        hosts: "{{ groups['db'] }}"
        results: "{{ groups['db'] | map('extract', hostvars) | map(attribute='db_diagnose_result', default={}) }}"
    thresholds: "{{ perf_thresholds }}"
"""

RETURN = r"""
status:
  description: Worst status over all hosts (ok, warning, critical, failed, skipped).
  returned: success
  type: str
  sample: critical
findings:
  description: Every check that is not ok, worst first.
  returned: success
  type: list
  elements: dict
  sample:
    - {host: lab-db, check: pg_long_queries, status: critical, value: 42.1, unit: s, summary: "..."}
lines:
  description: The verdict and one line per finding, for the console.
  returned: success
  type: list
  elements: str
  sample:
    - "Overall: CRITICAL for incident INC-20261203-031500-a1b2"
    - "CRITICAL lab-db pg_long_queries: 1 statement(s) running over 1 s; longest pid 4242 for 42.1 s"
json_path:
  description: Path of report.json.
  returned: when written
  type: str
  sample: /var/lib/perf-runbook/incidents/INC-20261203-031500-a1b2/report.json
markdown_path:
  description: Path of report.md.
  returned: when written
  type: str
  sample: /var/lib/perf-runbook/incidents/INC-20261203-031500-a1b2/report.md
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.perf_incident import (
    append_event,
    incident_dir,
    load_incident,
    read_timeline,
    report_history_path,
    timeline_event,
    valid_incident_id,
    who_am_i,
    write_file_atomically,
)
from ansible.module_utils.perf_report import build_report, console_lines, render_markdown
from ansible.module_utils.perf_result import STATUSES


def _record_problems(where, records):
    problems = []
    for number, record in enumerate(records):
        if not isinstance(record, dict) or record.get("status") not in STATUSES or not record.get("check"):
            problems.append(f"{where}.checks[{number}] is not a check record (needs check and a status)")
    return problems


def source_problems(sources):
    """One-line problems with what the diagnosis roles registered, before anything is written."""
    problems = []
    for index, source in enumerate(sources):
        where = f"sources[{index}]"
        if not source.get("role"):
            problems.append(f"{where} needs a role")
        if not isinstance(source.get("hosts", []), list) or not isinstance(source.get("results", []), list):
            problems.append(f"{where}.hosts and .results must be lists")
            continue
        for number, result in enumerate(source.get("results") or []):
            if result is not None and not isinstance(result, dict):
                problems.append(f"{where}.results[{number}] must be a registered result (a dict) or null")
            elif result and isinstance(result.get("checks"), list):
                problems += _record_problems(f"{where}.results[{number}]", result["checks"])
    return problems


# format -> (file extension, name of the returned path)
_FILES = {"json": ("json", "json_path"), "markdown": ("md", "markdown_path")}


def render(report, fmt):
    if fmt == "json":
        return json.dumps(report, indent=2, sort_keys=True, default=str) + "\n"
    return render_markdown(report)


def write_report(folder, report, formats):
    """Write the latest report and a copy in history/, which later runs never overwrite."""
    os.makedirs(os.path.join(folder, "history"), mode=0o750, exist_ok=True)
    paths = {}
    for fmt in formats:
        extension, key = _FILES[fmt]
        text = render(report, fmt)
        write_file_atomically(report_history_path(folder, report, extension), text)
        paths[key] = os.path.join(folder, f"report.{extension}")
        write_file_atomically(paths[key], text)
    return paths


def main():
    module = AnsibleModule(
        argument_spec={
            "store": {"type": "path", "required": True},
            "incident_id": {"type": "str", "required": True},
            "phase": {"type": "str", "default": "diagnose"},
            "sources": {"type": "list", "elements": "dict", "required": True},
            "thresholds": {"type": "dict", "default": {}},
            "formats": {
                "type": "list",
                "elements": "str",
                "choices": ["json", "markdown"],
                "default": ["json", "markdown"],
            },
            "operator": {"type": "str"},
        },
        supports_check_mode=True,
    )
    params = module.params
    params["store"] = os.path.abspath(params["store"])
    problems = source_problems(params["sources"])
    if not valid_incident_id(params["incident_id"]):
        problems.append(f"incident_id {params['incident_id']!r} is not of the form INC-YYYYMMDD-HHMMSS-xxxx")
    if not params["formats"]:
        problems.append("formats must name at least one of json, markdown")
    if problems:
        module.fail_json(msg="; ".join(problems))
    try:
        incident = load_incident(params["store"], params["incident_id"])
        # The event goes into this report's timeline now and into the incident log only once the
        # files are written: the log never claims a report that does not exist.
        event = timeline_event(who_am_i(params["operator"]), params["phase"], f"{params['phase']} report written")
        timeline = read_timeline(params["store"], params["incident_id"]) + [event]
        report = build_report(incident, params["sources"], params["thresholds"], timeline, params["phase"])
        paths = {}
        if not module.check_mode:
            paths = write_report(incident_dir(params["store"], incident["id"]), report, params["formats"])
            append_event(params["store"], params["incident_id"], event)
    except (LookupError, OSError, ValueError) as error:
        module.fail_json(msg=str(error))
    module.exit_json(
        changed=not module.check_mode,
        status=report["status"],
        findings=report["findings"],
        lines=console_lines(report),
        **paths,
    )


if __name__ == "__main__":
    main()
