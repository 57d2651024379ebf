#!/usr/bin/python
"""Ansible module: blocked sessions, who blocks them, through the whole chain."""

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_blocking_locks
short_description: Blocked PostgreSQL sessions and the sessions that block them
description:
  - The runbook's "Check for blocking queries" as structured data, built on C(pg_blocking_pids()) so that
    every lock type and the whole blocking chain are covered (a session waiting behind a session that waits
    behind a third).
  - For each blocked session, its statement, how long it has waited (from C(pg_locks.waitstart)), the pids
    blocking it directly, the chain to the root blocker and the root blockers themselves.
  - Root blockers (blocking, not blocked) are ranked by how many sessions wait behind them, with their state
    and statement, the session an operator would cancel or terminate.
  - Grades the longest wait against C(pg_lock_wait_seconds).
version_added: "1.0.0"
author: perf-runbook engineers
options:
  query_length:
    description: Characters of each statement to return.
    type: int
    default: 500
  limit:
    description: Most blocked sessions to examine.
    type: int
    default: 20
extends_documentation_fragment:
  - perf_postgres
  - perf_thresholds
  - perf_postgres.read_only
"""

EXAMPLES = r"""
- name: diagnose | Who blocks whom
  pg_blocking_locks:
    login_host: 127.0.0.1
    login_user: perf_monitor
    login_password: "{{ vault_pg_monitor_password }}"
    login_db: holi_protocol
  register: locks

- name: diagnose | Name the root blocker
  ansible.builtin.debug:
    msg: "root blocker {{ locks.root_blockers[0].pid }}"
  when: locks.root_blockers | length > 0
"""

RETURN = r"""
check:
  description: The check record (see docs/report-schema.json).
  returned: success
  type: dict
  sample:
    check: pg_blocking_locks
    status: critical
    value: 31.2
    unit: s
blocked:
  description: Blocked sessions, longest wait first.
  returned: success
  type: list
  elements: dict
  sample:
    - pid: 5001
      wait_seconds: 31.2
      blocking_pids: [5000]
      chain: [5001, 5000]
      root_blocking_pids: [5000]
      query: UPDATE "Patient" SET "updatedAt" = now() WHERE id = 1
root_blockers:
  description: Sessions at the head of a chain, most victims first.
  returned: success
  type: list
  elements: dict
  sample:
    - pid: 5000
      state: idle in transaction
      blocks: 2
      transaction_seconds: 40.0
      query: UPDATE "Patient" SET "updatedAt" = now() WHERE id = 1
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.perf_pg_module import module_argument_spec, run_single_check_module


def main():
    module = AnsibleModule(argument_spec=module_argument_spec(["query_length", "limit"]), supports_check_mode=True)
    record = run_single_check_module(module, "blocking_locks")
    evidence = record["evidence"]
    module.exit_json(changed=False, check=record, blocked=evidence["blocked"], root_blockers=evidence["root_blockers"])


if __name__ == "__main__":
    main()
