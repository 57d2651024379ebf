#!/usr/bin/python
"""Ansible module: Redis round-trip latency, like redis-cli --latency."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_latency
short_description: Redis round-trip latency (PING)
description:
  - The runbook's C(redis-cli --latency) as structured data. Sends O(samples) PINGs, O(interval_ms) apart, and
    returns min, avg, p50, p95, p99 and max in milliseconds.
  - Grades p95 against C(redis_latency_ms) (runbook, under 1 ms is normal, over 10 ms is Scenario 5). p95, not
    p99, because with a few dozen samples p99 is one hiccup of the host running the check.
version_added: "1.0.0"
author: perf-runbook engineers
options:
  samples:
    description: Round trips to time.
    type: int
    default: 50
  interval_ms:
    description: Pause between round trips, in milliseconds (redis-cli uses 10).
    type: int
    default: 10
extends_documentation_fragment:
  - perf_redis
  - perf_thresholds
  - perf_redis.read_only
"""

EXAMPLES = r"""
- name: Diagnose | Redis round-trip latency (PING)
  redis_latency:
    login_host: 127.0.0.1
    login_port: 6379
    login_user: perf_monitor
    login_password: "{{ vault_redis_monitor_password }}"
    samples: 100
  register: redis_latency
"""

RETURN = r"""
check:
  description: The check record (the one shape every check returns; see docs/report-schema.json).
  returned: success
  type: dict
  sample:
    check: redis_latency
    status: critical
    value: 28.4
    unit: ms
    evidence: {samples: 50, min_ms: 0.08, avg_ms: 9.1, p50_ms: 0.1, p95_ms: 28.4, p99_ms: 31.2, max_ms: 32.0}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.perf_redis_module import module_argument_spec, run_single_check_module


def main():
    module = AnsibleModule(argument_spec=module_argument_spec(["samples", "interval_ms"]), supports_check_mode=True)
    record = run_single_check_module(module, "latency")
    module.exit_json(changed=False, check=record)


if __name__ == "__main__":
    main()
