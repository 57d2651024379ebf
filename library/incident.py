#!/usr/bin/python
"""Ansible module: open an incident, find it again by id, append to its timeline."""

from __future__ import annotations

DOCUMENTATION = r"""
module: incident
short_description: Open an incident or find it by id, and append events to its timeline
description:
  - The runbook's "Acknowledge Incident" made durable. An incident has an id (C(INC-YYYYMMDD-HHMMSS-xxxx)),
    a start time, the alert that started it and an append-only timeline of who did what when, kept in an
    incident store (a folder) where every later phase, run separately, finds it by its id.
  - Layout, C(<store>/<id>/incident.json) and C(<store>/<id>/timeline.jsonl) (one JSON event per line,
    appended with O_APPEND, never rewritten).
  - Runs on the controller (or wherever the store lives).
version_added: "1.0.0"
author: perf-runbook engineers
options:
  store:
    description: Folder of the incident store; created when missing.
    type: path
    required: true
  state:
    description:
      - C(present) finds O(incident_id) when given (failing if it does not exist), else opens a new incident.
      - C(opened) always opens a new incident.
      - C(event) appends O(what) to the timeline of O(incident_id).
    type: str
    default: present
    choices: [present, opened, event]
  incident_id:
    description: Id of an existing incident.
    type: str
  alert:
    description: The alert or report that started the incident (for example C(HighResponseTime)).
    type: str
    default: ''
  operator:
    description: Who acts. Defaults to the login that runs Ansible (C(SUDO_USER), C(USER)); AWX passes its user.
    type: str
  phase:
    description: Runbook phase the event belongs to.
    type: str
    default: acknowledge
  what:
    description: What happened, one line. Required with O(state=event).
    type: str
  details:
    description: Structured details of the event.
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description: In check mode nothing is written; the incident that would be opened is returned.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: acknowledge | Open the incident
  incident:
    store: /var/lib/perf-runbook/incidents
    alert: HighResponseTime
  register: incident

- name: resolve | Record an action
  incident:
    store: /var/lib/perf-runbook/incidents
    incident_id: "{{ incident.incident.id }}"
    state: event
    phase: resolve
    what: terminated 12 idle sessions
    details: {pids: [101, 102]}
"""

RETURN = r"""
incident:
  description: The incident.
  returned: success
  type: dict
  sample:
    id: INC-20261203-031500-a1b2
    started_at: "2026-12-03T03:15:00Z"
    alert: HighResponseTime
    opened_by: oncall
    store: /var/lib/perf-runbook/incidents
    path: /var/lib/perf-runbook/incidents/INC-20261203-031500-a1b2
created:
  description: Whether a new incident was opened.
  returned: success
  type: bool
  sample: true
event:
  description: The timeline event appended, if any.
  returned: when an event was appended
  type: dict
  sample: {at: "2026-12-03T03:15:00Z", who: oncall, phase: acknowledge, what: incident opened, details: {}}
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.perf_incident import (
    append_event,
    incident_record,
    load_incident,
    new_incident_id,
    timeline_event,
    utc_now,
    valid_incident_id,
    who_am_i,
    write_new_incident,
)


def input_problems(params):
    problems = []
    if params["incident_id"] and not valid_incident_id(params["incident_id"]):
        problems.append(f"incident_id {params['incident_id']!r} is not of the form INC-YYYYMMDD-HHMMSS-xxxx")
    if params["state"] == "event" and not params["incident_id"]:
        problems.append("state=event needs incident_id")
    if params["state"] == "event" and not params["what"]:
        problems.append("state=event needs what")
    if not params["store"].strip():
        problems.append("store must name a folder")
    elif os.path.exists(params["store"]) and not os.path.isdir(params["store"]):
        problems.append(f"store {params['store']} exists and is not a folder")
    return problems


def open_incident(module, operator):
    started = utc_now()
    params = module.params
    record = incident_record(new_incident_id(started), started, params["alert"], operator, params["store"])
    what = f"incident opened: {record['alert'] or 'no alert named'}"
    event = timeline_event(operator, params["phase"], what, moment=started)
    if not module.check_mode:
        write_new_incident(record)
        append_event(record["store"], record["id"], event)
    return record, event


def main():
    module = AnsibleModule(
        argument_spec={
            "store": {"type": "path", "required": True},
            "state": {"type": "str", "default": "present", "choices": ["present", "opened", "event"]},
            "incident_id": {"type": "str"},
            "alert": {"type": "str", "default": ""},
            "operator": {"type": "str"},
            "phase": {"type": "str", "default": "acknowledge"},
            "what": {"type": "str"},
            "details": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    problems = input_problems(module.params)
    module.params["store"] = os.path.abspath(module.params["store"])
    if problems:
        module.fail_json(msg="; ".join(problems))
    operator = who_am_i(module.params["operator"])
    params = module.params
    try:
        if params["state"] == "opened" or (params["state"] == "present" and not params["incident_id"]):
            record, event = open_incident(module, operator)
            module.exit_json(changed=True, incident=record, created=True, event=event)
        record = load_incident(params["store"], params["incident_id"])
        if params["state"] == "present":
            module.exit_json(changed=False, incident=record, created=False)
        event = timeline_event(operator, params["phase"], params["what"], params["details"])
        if not module.check_mode:
            append_event(params["store"], params["incident_id"], event)
        module.exit_json(changed=True, incident=record, created=False, event=event)
    except (LookupError, OSError, ValueError) as error:
        module.fail_json(msg=str(error))


if __name__ == "__main__":
    main()
