#!/usr/bin/python
"""Ansible module: statements running longer than a threshold (the runbook's long-running queries)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_long_queries
short_description: Statements running longer than a threshold
description:
  - The runbook's "Check for long-running queries" as structured data. Lists client statements in state
    C(active) that have run longer than O(min_duration_seconds), longest first, with pid, user, application,
    client, wait event, duration and the statement truncated to O(query_length).
  - Excludes its own session and non-client backends (replication, autovacuum, background workers).
  - Grades the longest duration against the C(pg_long_query_seconds) pair (runbook 1 s / 5 s).
  - Read-only; every statement runs under the session's statement_timeout and lock_timeout.
version_added: "1.0.0"
author: perf-runbook engineers
options:
  min_duration_seconds:
    description: Shortest duration to list. Defaults to the warning threshold of C(pg_long_query_seconds).
    type: float
  query_length:
    description: Characters of each statement to return.
    type: int
    default: 500
  limit:
    description: Most statements to return.
    type: int
    default: 20
extends_documentation_fragment:
  - perf_postgres
  - perf_thresholds
  - perf_postgres.read_only
notes:
  - Connect as a role granted C(pg_monitor), or other users' statements are invisible.
"""

EXAMPLES = r"""
- name: diagnose | Statements running over 5 s
  pg_long_queries:
    login_host: db.internal
    login_user: perf_monitor
    login_password: "{{ vault_pg_monitor_password }}"
    login_db: holi_protocol
    min_duration_seconds: 5
  register: long_queries
"""

RETURN = r"""
check:
  description: The check record (the one shape every check returns; see docs/report-schema.json).
  returned: success
  type: dict
  sample:
    check: pg_long_queries
    status: critical
    value: 42.1
    unit: s
    summary: "1 statement(s) running over 1 s; longest pid 4242 for 42.1 s"
queries:
  description: The statements found, longest first.
  returned: success
  type: list
  elements: dict
  sample:
    - pid: 4242
      user: holi_app
      database: holi_protocol
      application: api
      client: 10.0.0.5
      state: active
      wait_event_type: null
      wait_event: null
      query_seconds: 42.1
      transaction_seconds: 42.1
      state_seconds: 42.1
      query: SELECT pg_sleep(3600)
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.perf_pg_module import module_argument_spec, run_single_check_module


def main():
    module = AnsibleModule(
        argument_spec=module_argument_spec(["min_duration_seconds", "query_length", "limit"]),
        supports_check_mode=True,
    )
    record = run_single_check_module(module, "long_queries")
    module.exit_json(changed=False, check=record, queries=record["evidence"]["queries"])


if __name__ == "__main__":
    main()
