#!/usr/bin/python
"""Ansible module: connections in use against max_connections (the runbook's pool check)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_pool_usage
short_description: PostgreSQL connection slots in use, per state and database
description:
  - The runbook's "Check connection pool usage" and "Check max connections" as one structured result,
    active, idle, idle in transaction and total client connections, per database and in all, against
    C(max_connections), with the users / applications / clients holding the most.
  - Utilization counts every client connection, whatever its state, because each one holds a slot; the
    runbook's narrower rule (active + idle in transaction over 80 %) is returned as C(busy_percent).
  - A server so full that even this module cannot connect ("too many clients") is reported as a critical
    finding at 100 %, not as a failure.
  - Grades utilization against C(pg_pool_utilization_percent).
version_added: "1.0.0"
author: perf-runbook engineers
options:
  limit:
    description: Most connection holders (user, application, client) to return.
    type: int
    default: 20
extends_documentation_fragment:
  - perf_postgres
  - perf_thresholds
  - perf_postgres.read_only
"""

EXAMPLES = r"""
- name: diagnose | Connection pool usage
  pg_pool_usage:
    login_host: 127.0.0.1
    login_user: perf_monitor
    login_password: "{{ vault_pg_monitor_password }}"
    login_db: holi_protocol
    thresholds:
      pg_pool_utilization_percent: {warning: 60, critical: 75}
  register: pool
"""

RETURN = r"""
check:
  description: The check record (see docs/report-schema.json).
  returned: success
  type: dict
  sample:
    check: pg_pool_usage
    status: critical
    value: 91.0
    unit: "%"
    summary: "91 of 100 connections in use (91.0 %): 1 active, 45 idle, 45 idle in transaction"
usage:
  description: The counts behind the value.
  returned: success
  type: dict
  sample:
    active: 1
    idle: 45
    idle_in_transaction: 45
    total: 91
    max_connections: 100
    busy_percent: 46.0
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.perf_pg_module import module_argument_spec, run_single_check_module


def main():
    module = AnsibleModule(argument_spec=module_argument_spec(["limit"]), supports_check_mode=True)
    record = run_single_check_module(module, "pool_usage")
    module.exit_json(changed=False, check=record, usage=record["evidence"])


if __name__ == "__main__":
    main()
