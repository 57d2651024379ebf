#!/usr/bin/python
"""Ansible module: several Redis and queue checks over one connection, for the diagnosis role."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_diagnose
short_description: Run several Redis and job-queue diagnostic checks over one connection
description:
  - The collector the C(redis_diagnose) role uses. Runs the named O(checks) over one client and returns one
    record per check, in the same shape M(redis_latency), M(redis_memory), M(redis_slowlog), M(redis_bigkeys)
    and M(queue_backlog) return, all through the functions of C(module_utils/perf_redis_checks.py).
  - Never fails because a check could not run (server down, wrong password, a command the ACL user may not
    run) - such a check is a record with status C(failed) and the reason, and the others go on. Fails only on
    bad input, before anything is sent.
version_added: "1.0.0"
author: perf-runbook engineers
options:
  checks:
    description: Checks to run, in this order.
    type: list
    elements: str
    choices: [latency, memory, slowlog, bigkeys, queue_backlog]
    default: [latency, memory, slowlog, bigkeys, queue_backlog]
  samples:
    description: Round trips the latency check times.
    type: int
    default: 50
  interval_ms:
    description: Pause between latency round trips, in milliseconds.
    type: int
    default: 10
  fragmentation_limit:
    description: Fragmentation ratio above which the memory check writes a note.
    type: float
    default: 1.5
  slowlog_entries:
    description: Slow-log entries to read.
    type: int
    default: 128
  reset_after_read:
    description: Reset the slow log after reading it (never in check mode).
    type: bool
    default: false
  pattern:
    description: SCAN MATCH pattern of the big-key scan.
    type: str
    default: '*'
  scan_count:
    description: SCAN COUNT hint.
    type: int
    default: 1000
  max_keys:
    description: Most keys a scan visits.
    type: int
    default: 1000000
  throttle_ms:
    description: Pause between scan batches, in milliseconds.
    type: int
    default: 0
  memory_samples:
    description: MEMORY USAGE SAMPLES.
    type: int
    default: 5
  top:
    description: Keys to list by memory.
    type: int
    default: 10
  queue_prefix:
    description: Key prefix of the Bull queues.
    type: str
    default: bull
  queues:
    description: Queue names; empty finds every queue under O(queue_prefix).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - perf_redis
  - perf_thresholds
  - perf_redis.read_only
"""

EXAMPLES = r"""
- name: Diagnose | Redis checks
  redis_diagnose:
    login_host: "{{ redis_diagnose_login_host }}"
    login_port: "{{ redis_diagnose_login_port }}"
    login_user: "{{ redis_diagnose_login_user }}"
    login_password: "{{ redis_diagnose_login_password }}"
    thresholds: "{{ perf_thresholds }}"
  register: redis_checks
"""

RETURN = r"""
checks:
  description: One record per check, in the order asked (see docs/report-schema.json).
  returned: always
  type: list
  elements: dict
  sample:
    - check: redis_latency
      status: ok
      value: 0.21
      unit: ms
status:
  description: The worst status among the checks.
  returned: always
  type: str
  sample: warning
connect_error:
  description: Why the connection failed, when it did.
  returned: when the connection failed
  type: str
  sample: "cannot connect to redis://perf_monitor@127.0.0.1:6379/0: WRONGPASS invalid username-password pair"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.perf_redis_checks import REDIS_CHECKS
from ansible.module_utils.perf_redis_module import OPTION_SPECS, fail_on_bad_input, module_argument_spec, run_checks
from ansible.module_utils.perf_result import collector_result


def main():
    spec = module_argument_spec(list(OPTION_SPECS))
    spec["checks"] = {"type": "list", "elements": "str", "choices": list(REDIS_CHECKS), "default": list(REDIS_CHECKS)}
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    fail_on_bad_input(module)
    records, connect_error = run_checks(module.params, module.params["checks"], module.check_mode)
    reset = any(record["evidence"].get("reset") for record in records if isinstance(record["evidence"], dict))
    module.exit_json(**collector_result(records, connect_error, changed=reset))


if __name__ == "__main__":
    main()
