#!/usr/bin/python
"""Ansible module: Backlog of Bull / BullMQ job queues."""

from __future__ import annotations

DOCUMENTATION = r"""
module: queue_backlog
short_description: Backlog of Bull / BullMQ queues
description:
  - The runbook's "Email Queue Performance" for any queue. Reads the keys Bull and BullMQ lay out
    (C(<prefix>:<queue>:wait), C(active), C(paused) lists; C(delayed), C(failed), C(completed), C(prioritized)
    sorted sets) with their length commands only, for the O(queues) named or every queue found under
    O(queue_prefix) with SCAN (bounded by O(max_keys)).
  - Grades active jobs against C(queue_active_jobs) (runbook, active over 50 means an overloaded worker) and
    waiting jobs against C(queue_waiting_jobs).
version_added: "1.0.0"
author: perf-runbook engineers
options:
  queue_prefix:
    description: Key prefix of the queues (Bull's default is C(bull)).
    type: str
    default: bull
  queues:
    description: Queue names; empty finds every queue under O(queue_prefix).
    type: list
    elements: str
    default: []
  max_keys:
    description: Most keys SCAN may visit to find queues.
    type: int
    default: 1000000
  scan_count:
    description: SCAN COUNT hint.
    type: int
    default: 1000
extends_documentation_fragment:
  - perf_redis
  - perf_thresholds
  - perf_redis.read_only
"""

EXAMPLES = r"""
- name: Diagnose | Backlog of Bull / BullMQ queues
  queue_backlog:
    login_host: 127.0.0.1
    login_port: 6379
    login_user: perf_monitor
    login_password: "{{ vault_redis_monitor_password }}"
    queues: [email-notifications]
  register: queues
"""

RETURN = r"""
check:
  description: The check record (the one shape every check returns; see docs/report-schema.json).
  returned: success
  type: dict
  sample:
    check: queue_backlog
    status: warning
    value: 60
    unit: jobs
    summary: "queue email-notifications: 60 active, 1200 waiting, 30 delayed, 15 failed"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.perf_redis_module import module_argument_spec, run_single_check_module


def main():
    options = ["queue_prefix", "queues", "max_keys", "scan_count"]
    module = AnsibleModule(argument_spec=module_argument_spec(options), supports_check_mode=True)
    record = run_single_check_module(module, "queue_backlog")
    module.exit_json(changed=False, check=record)


if __name__ == "__main__":
    main()
