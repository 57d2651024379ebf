#!/usr/bin/python
"""Ansible module: The Redis slow log, parsed and grouped."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_slowlog
short_description: The Redis slow log, grouped by command
description:
  - The runbook's C(redis-cli SLOWLOG GET) as structured data, for every entry layout servers return (before
    Redis 4.0 entries have no client address and name). Durations in milliseconds, grouped by command, with
    the runbook's known offenders flagged (KEYS, HGETALL, SMEMBERS, FLUSHALL / FLUSHDB, whole-range LRANGE).
  - Grades the slowest entry against C(redis_slowlog_ms).
  - O(reset_after_read) resets the log after reading it; a reset is a change, so it never happens in check
    mode and the module then reports C(changed).
version_added: "1.0.0"
author: perf-runbook engineers
options:
  slowlog_entries:
    description: Entries to read (SLOWLOG GET count).
    type: int
    default: 128
  reset_after_read:
    description: SLOWLOG RESET after reading, so the next run sees only new entries. Never in check mode.
    type: bool
    default: false
extends_documentation_fragment:
  - perf_redis
  - perf_thresholds
  - perf_redis.read_only
"""

EXAMPLES = r"""
- name: Diagnose | The Redis slow log, grouped by command
  redis_slowlog:
    login_host: 127.0.0.1
    login_port: 6379
    login_user: perf_monitor
    login_password: "{{ vault_redis_monitor_password }}"
    slowlog_entries: 20
  register: redis_slowlog
"""

RETURN = r"""
check:
  description: The check record (the one shape every check returns; see docs/report-schema.json).
  returned: success
  type: dict
  sample:
    check: redis_slowlog
    status: warning
    value: 48.1
    unit: ms
    summary: "3 slow command(s), slowest KEYS 48.1 ms; known offenders: HGETALL, KEYS"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.perf_redis_module import module_argument_spec, run_single_check_module


def main():
    options = ["slowlog_entries", "reset_after_read"]
    module = AnsibleModule(argument_spec=module_argument_spec(options), supports_check_mode=True)
    record = run_single_check_module(module, "slowlog")
    module.exit_json(changed=bool(record["evidence"].get("reset")), check=record)


if __name__ == "__main__":
    main()
