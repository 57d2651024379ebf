#!/usr/bin/python
"""Ansible module: Redis memory and the stats that matter."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_memory
short_description: Redis memory, evictions and clients
description:
  - The runbook's C(INFO memory) made useful. Used, peak and RSS memory, fragmentation ratio, maxmemory and
    its policy, evicted and expired keys, connected and blocked clients.
  - Grades used memory as a share of maxmemory against C(redis_memory_percent); fragmentation over
    O(fragmentation_limit), evictions, blocked clients and an unset maxmemory are named in the notes.
version_added: "1.0.0"
author: perf-runbook engineers
options:
  fragmentation_limit:
    description: Fragmentation ratio above which a note is written (only when over 100 MB is used).
    type: float
    default: 1.5
extends_documentation_fragment:
  - perf_redis
  - perf_thresholds
  - perf_redis.read_only
"""

EXAMPLES = r"""
- name: Diagnose | Redis memory, evictions and clients
  redis_memory:
    login_host: 127.0.0.1
    login_port: 6379
    login_user: perf_monitor
    login_password: "{{ vault_redis_monitor_password }}"
  register: redis_memory
"""

RETURN = r"""
check:
  description: The check record (the one shape every check returns; see docs/report-schema.json).
  returned: success
  type: dict
  sample:
    check: redis_memory
    status: warning
    value: 84.2
    unit: "%"
    summary: used 1.68G of maxmemory (84.2 %), policy allkeys-lru
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.perf_redis_module import module_argument_spec, run_single_check_module


def main():
    module = AnsibleModule(argument_spec=module_argument_spec(["fragmentation_limit"]), supports_check_mode=True)
    record = run_single_check_module(module, "memory")
    module.exit_json(changed=False, check=record)


if __name__ == "__main__":
    main()
