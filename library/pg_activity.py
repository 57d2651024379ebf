#!/usr/bin/python
"""Ansible module: non-idle client sessions ordered by duration (the runbook's active queries)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_activity
short_description: Non-idle PostgreSQL sessions, longest first
description:
  - The runbook's "Check active queries and duration" as structured data. Lists client sessions whose state
    is not C(idle) (active, idle in transaction, ...), oldest statement first, with pid, user, application,
    client, state, wait event, durations and the statement truncated to O(query_length).
  - Excludes its own session and non-client backends. Informational, its status is always C(ok); the
    long-query, lock and pool checks grade what it shows.
version_added: "1.0.0"
author: perf-runbook engineers
options:
  query_length:
    description: Characters of each statement to return.
    type: int
    default: 500
  limit:
    description: Most sessions to return.
    type: int
    default: 20
extends_documentation_fragment:
  - perf_postgres
  - perf_thresholds
  - perf_postgres.read_only
"""

EXAMPLES = r"""
- name: diagnose | Non-idle sessions
  pg_activity:
    login_host: 127.0.0.1
    login_port: 25432
    login_user: perf_monitor
    login_password: "{{ lookup('ansible.builtin.env', 'PERF_PG_PASSWORD') }}"
    login_db: holi_protocol
    limit: 50
  register: activity
"""

RETURN = r"""
check:
  description: The check record (see docs/report-schema.json).
  returned: success
  type: dict
  sample:
    check: pg_activity
    status: ok
    value: 3
    unit: sessions
sessions:
  description: Non-idle client sessions, oldest statement first.
  returned: success
  type: list
  elements: dict
  sample:
    - pid: 4242
      user: holi_app
      state: idle in transaction
      query_seconds: 12.5
      transaction_seconds: 80.2
      query: UPDATE "Patient" SET "updatedAt" = now() WHERE id = 1
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.perf_pg_module import module_argument_spec, run_single_check_module


def main():
    module = AnsibleModule(argument_spec=module_argument_spec(["query_length", "limit"]), supports_check_mode=True)
    record = run_single_check_module(module, "activity")
    module.exit_json(changed=False, check=record, sessions=record["evidence"]["sessions"])


if __name__ == "__main__":
    main()
