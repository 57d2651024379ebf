#!/usr/bin/python
"""Ansible module: The biggest Redis keys, by memory and by element count."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_bigkeys
short_description: The biggest Redis keys by memory and by element count
description:
  - The runbook's C(redis-cli --bigkeys), with bytes as well as element counts. Walks the keyspace with
    SCAN (O(scan_count) per call, O(pattern) filter), measures each key with TYPE, its type's own length
    command and C(MEMORY USAGE) (O(memory_samples) samples), two pipelined round trips per batch, and never
    reads a value.
  - Stops after O(max_keys) keys and pauses O(throttle_ms) between batches, so a scan of a large keyspace
    does not hurt other clients; the record says when the scan did not cover the whole keyspace.
  - Grades the biggest key's bytes against C(redis_big_key_bytes).
version_added: "1.0.0"
author: perf-runbook engineers
options:
  pattern:
    description: SCAN MATCH pattern.
    type: str
    default: '*'
  scan_count:
    description: SCAN COUNT hint, keys per batch.
    type: int
    default: 1000
  max_keys:
    description: Stop after this many keys.
    type: int
    default: 1000000
  throttle_ms:
    description: Pause between batches, in milliseconds.
    type: int
    default: 0
  memory_samples:
    description: MEMORY USAGE SAMPLES (0 measures every element; exact but slower on big keys).
    type: int
    default: 5
  top:
    description: Keys to list by memory.
    type: int
    default: 10
extends_documentation_fragment:
  - perf_redis
  - perf_thresholds
  - perf_redis.read_only
"""

EXAMPLES = r"""
- name: Diagnose | The biggest Redis keys by memory and by element count
  redis_bigkeys:
    login_host: 127.0.0.1
    login_port: 6379
    login_user: perf_monitor
    login_password: "{{ vault_redis_monitor_password }}"
    pattern: 'session:*'
    throttle_ms: 5
  register: redis_bigkeys
"""

RETURN = r"""
check:
  description: The check record (the one shape every check returns; see docs/report-schema.json).
  returned: success
  type: dict
  sample:
    check: redis_bigkeys
    status: critical
    value: 12000000
    unit: bytes
    evidence:
      top_by_type: {hash: {key: "session:large-key", type: hash, elements: 100000, bytes: 12000000}}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.perf_redis_module import module_argument_spec, run_single_check_module


def main():
    options = ["pattern", "scan_count", "max_keys", "throttle_ms", "memory_samples", "top"]
    module = AnsibleModule(argument_spec=module_argument_spec(options), supports_check_mode=True)
    record = run_single_check_module(module, "bigkeys")
    module.exit_json(changed=False, check=record)


if __name__ == "__main__":
    main()
