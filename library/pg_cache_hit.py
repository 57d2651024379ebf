#!/usr/bin/python
"""Ansible module: heap cache hit ratio of a database (the runbook's 95 % rule)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_cache_hit
short_description: Heap cache hit ratio of a PostgreSQL database
description:
  - The runbook's "Check cache hit rate" as structured data, from C(pg_statio_user_tables) of O(login_db),
    with the tables read most from disk.
  - A database with no table reads since its statistics were reset has no ratio; that is reported as a value
    (C(null), status C(ok)) with a summary saying so, never as an error.
  - Grades the ratio against C(pg_cache_hit_percent) (lower is worse).
version_added: "1.0.0"
author: perf-runbook engineers
options:
  limit:
    description: Most tables to list.
    type: int
    default: 20
extends_documentation_fragment:
  - perf_postgres
  - perf_thresholds
  - perf_postgres.read_only
"""

EXAMPLES = r"""
- name: diagnose | Cache hit ratio
  pg_cache_hit:
    login_host: 127.0.0.1
    login_user: perf_monitor
    login_password: "{{ vault_pg_monitor_password }}"
    login_db: holi_protocol
  register: cache
"""

RETURN = r"""
check:
  description: The check record (see docs/report-schema.json).
  returned: success
  type: dict
  sample:
    check: pg_cache_hit
    status: warning
    value: 93.5
    unit: "%"
ratio:
  description: Hit ratio in percent, or null when nothing was read yet.
  returned: success
  type: float
  sample: 93.5
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.perf_pg_module import module_argument_spec, run_single_check_module


def main():
    module = AnsibleModule(argument_spec=module_argument_spec(["limit"]), supports_check_mode=True)
    record = run_single_check_module(module, "cache_hit")
    module.exit_json(changed=False, check=record, ratio=record["value"])


if __name__ == "__main__":
    main()
