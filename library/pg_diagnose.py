#!/usr/bin/python
"""Ansible module: several PostgreSQL checks over one connection, for the diagnosis role."""

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_diagnose
short_description: Run several PostgreSQL diagnostic checks over one connection
description:
  - The collector the C(db_diagnose) role uses. Runs the named O(checks) over a single connection and returns
    one record per check, in the same shape the single-purpose modules (M(pg_activity), M(pg_long_queries),
    M(pg_blocking_locks), M(pg_pool_usage), M(pg_cache_hit), M(pg_index_candidates), M(pg_top_queries))
    return; both call the same functions in C(module_utils/perf_pg_checks.py).
  - Ansible costs about half a second per task per host, so one task per database host keeps a diagnosis fast.
  - Never fails because a check could not run. A check that cannot run (server down, permission denied,
    extension missing) becomes a record with status C(failed) and the reason, and the others go on. A server
    that refuses the connection because every slot is taken yields a critical C(pg_pool_usage) record.
  - Fails only on bad input (negative thresholds or options), before anything is sent.
version_added: "1.0.0"
author: perf-runbook engineers
options:
  checks:
    description: Checks to run, in this order.
    type: list
    elements: str
    choices: [activity, long_queries, blocking_locks, pool_usage, cache_hit, index_candidates, top_queries]
    default: [activity, long_queries, blocking_locks, pool_usage, cache_hit, index_candidates, top_queries]
  query_length:
    description: Characters of each statement to return.
    type: int
    default: 500
  limit:
    description: Most rows each check returns.
    type: int
    default: 20
  min_duration_seconds:
    description: Shortest statement duration the long-query check lists; defaults to its warning threshold.
    type: float
  min_table_rows:
    description: Smallest table the index-candidate check considers.
    type: int
    default: 10000
  min_seq_read_share:
    description: Share of rows read sequentially that makes a table an index candidate.
    type: float
    default: 0.5
  min_full_scans:
    description: How many times over sequential scans must have read a table for it to be an index candidate.
    type: float
    default: 1.0
  statements_per_table:
    description: Statements per candidate table read for column usage.
    type: int
    default: 20
  order_by:
    description: How the top-queries check ranks statements.
    type: str
    default: total_time
    choices: [total_time, mean_time, calls]
  min_calls:
    description: Statements called fewer times are left out of the top queries.
    type: int
    default: 1
  exclude_own_statements:
    description: Leave the connecting role's own statements out of the top queries.
    type: bool
    default: true
extends_documentation_fragment:
  - perf_postgres
  - perf_thresholds
  - perf_postgres.read_only
"""

EXAMPLES = r"""
- name: diagnose | PostgreSQL checks
  pg_diagnose:
    login_host: "{{ pg_diagnose_login_host }}"
    login_port: "{{ pg_diagnose_login_port }}"
    login_user: "{{ pg_diagnose_login_user }}"
    login_password: "{{ pg_diagnose_login_password }}"
    login_db: "{{ pg_diagnose_database }}"
    thresholds: "{{ perf_thresholds }}"
    checks: [long_queries, blocking_locks, pool_usage]
  register: pg_checks
"""

RETURN = r"""
checks:
  description: One record per check, in the order asked (see docs/report-schema.json).
  returned: always
  type: list
  elements: dict
  sample:
    - check: pg_long_queries
      status: critical
      value: 42.1
      unit: s
      threshold: {name: pg_long_query_seconds, warning: 1, critical: 5, direction: above}
      evidence: {queries: [{pid: 4242, query_seconds: 42.1, query: SELECT pg_sleep(3600)}]}
      summary: "1 statement(s) running over 1 s; longest pid 4242 for 42.1 s"
      error: null
      target: postgresql://perf_monitor@127.0.0.1:25432/holi_protocol
status:
  description: The worst status among the checks.
  returned: always
  type: str
  sample: critical
connect_error:
  description: Why the connection failed, when it did (the checks are then failed, or pool exhaustion).
  returned: when the connection failed
  type: str
  sample: 'cannot connect to postgresql://perf_monitor@127.0.0.1:25432/holi_protocol: password authentication failed'
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.perf_pg_checks import PG_CHECKS
from ansible.module_utils.perf_pg_module import OPTION_SPECS, fail_on_bad_input, module_argument_spec, run_checks
from ansible.module_utils.perf_result import collector_result


def main():
    spec = module_argument_spec(list(OPTION_SPECS))
    spec["checks"] = {"type": "list", "elements": "str", "choices": list(PG_CHECKS), "default": list(PG_CHECKS)}
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    fail_on_bad_input(module)
    records, connect_error = run_checks(module.params, module.params["checks"])
    module.exit_json(**collector_result(records, connect_error))


if __name__ == "__main__":
    main()
