"""Documentation of the thresholds option every diagnostic module takes (module_utils/perf_thresholds.py)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  thresholds:
    description:
      - Warning / critical pairs by name, overriding the runbook's defaults (the playbooks pass
        C(perf_thresholds) from C(playbooks/group_vars/all/thresholds.yml)). Each pair is a dict with
        C(warning) and C(critical), and optionally C(unit) and C(source); a pair's C(direction) is fixed.
      - Values must be finite and non-negative numbers (an empty value is refused, never read as off),
        critical must not be less severe than warning, and unknown names or keys are refused.
    type: dict
    default: {}
"""
