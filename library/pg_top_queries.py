#!/usr/bin/python
"""Ansible module: the heaviest statements from pg_stat_statements."""

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_top_queries
short_description: The heaviest statements from pg_stat_statements
description:
  - The statements the runbook's slow-query alert and N+1 hunt rest on, from C(pg_stat_statements) of
    O(login_db), with calls, total / mean / max time, rows per call, shared blocks hit and read, the normalized
    statement truncated to O(query_length).
  - Statements run by the connecting role are left out by default (O(exclude_own_statements)), so the
    diagnosis does not report itself.
  - Grades the highest mean time against C(pg_statement_mean_ms). Fails with a clear message when the
    extension is not installed in the database.
version_added: "1.0.0"
author: perf-runbook engineers
options:
  order_by:
    description: What "heaviest" means.
    type: str
    default: total_time
    choices: [total_time, mean_time, calls]
  min_calls:
    description: Leave out statements called fewer times than this.
    type: int
    default: 1
  exclude_own_statements:
    description: Leave out statements run by the connecting role.
    type: bool
    default: true
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
"""

EXAMPLES = r"""
- name: diagnose | Slowest statements on average
  pg_top_queries:
    login_host: 127.0.0.1
    login_user: perf_monitor
    login_password: "{{ vault_pg_monitor_password }}"
    login_db: holi_protocol
    order_by: mean_time
    min_calls: 5
  register: top_queries
"""

RETURN = r"""
check:
  description: The check record (see docs/report-schema.json).
  returned: success
  type: dict
  sample:
    check: pg_top_queries
    status: warning
    value: 182.4
    unit: ms
statements:
  description: The heaviest statements.
  returned: success
  type: list
  elements: dict
  sample:
    - queryid: "-7046394384932476093"
      user: holi_app
      calls: 30
      total_ms: 5472.0
      mean_ms: 182.4
      max_ms: 260.1
      rows_per_call: 100.0
      shared_blks_hit: 120000
      shared_blks_read: 3000
      query: SELECT id, "firstName" FROM "Patient" WHERE "createdAt" > $1 ORDER BY "createdAt" DESC LIMIT $2
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.perf_pg_module import module_argument_spec, run_single_check_module


def main():
    options = ["order_by", "min_calls", "exclude_own_statements", "query_length", "limit"]
    module = AnsibleModule(argument_spec=module_argument_spec(options), supports_check_mode=True)
    record = run_single_check_module(module, "top_queries")
    module.exit_json(changed=False, check=record, statements=record["evidence"]["statements"])


if __name__ == "__main__":
    main()
