"""The runbook's numbers live once in playbooks/group_vars/all/thresholds.yml; the modules' copy must equal it."""

import pytest
import yaml
from ansible.module_utils.perf_thresholds import RUNBOOK_THRESHOLDS, thresholds_for, validate_thresholds


def test_module_defaults_equal_the_playbook_thresholds(project_root):
    data = yaml.safe_load((project_root / "playbooks/group_vars/all/thresholds.yml").read_text())
    assert data["perf_thresholds_runbook"] == RUNBOOK_THRESHOLDS


def test_every_threshold_names_its_source_and_direction():
    for name, pair in RUNBOOK_THRESHOLDS.items():
        assert pair["source"], name
        assert pair["direction"] in ("above", "below"), name


def test_a_site_override_changes_only_the_keys_it_names():
    merged = thresholds_for(["pg_long_query_seconds"], {"pg_long_query_seconds": {"critical": 30}})
    assert merged["pg_long_query_seconds"]["critical"] == 30
    assert merged["pg_long_query_seconds"]["warning"] == 1
    assert merged["pg_long_query_seconds"]["name"] == "pg_long_query_seconds"


def test_negative_and_inverted_thresholds_are_refused_with_their_names():
    problems = validate_thresholds(
        {"pg_long_query_seconds": {"warning": -1}, "pg_cache_hit_percent": {"warning": 90, "critical": 95}}
    )
    assert "threshold pg_long_query_seconds.warning must not be negative, got -1" in problems
    assert "threshold pg_cache_hit_percent: critical 95 is less severe than warning 90" in problems


def test_runbook_defaults_are_consistent():
    assert validate_thresholds(RUNBOOK_THRESHOLDS) == []


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        (
            {"pg_long_query_seconds": {"warning": None}},
            "threshold pg_long_query_seconds.warning must be a number, got None",
        ),
        (
            {"pg_long_query_seconds": {"direction": "below"}},
            "threshold pg_long_query_seconds: direction is 'above' and cannot be changed",
        ),
        ({"pg_long_query_seconds": {"wrning": 3}}, "threshold pg_long_query_seconds has unknown key(s) wrning"),
        (
            {"pg_cache_hit_percent": {"warning": float("nan")}},
            "threshold pg_cache_hit_percent.warning must be a finite number, got nan",
        ),
        ({"pg_long_query_seconds": {"critical": 0.5}}, "threshold pg_long_query_seconds: critical 0.5 is less severe"),
        ({"pg_long_query_seconds": "5"}, "threshold pg_long_query_seconds must be a dict with warning and critical"),
    ],
)
def test_overrides_that_would_switch_a_check_off_or_invert_it_are_refused(override, problem):
    assert any(p.startswith(problem) for p in validate_thresholds(override)), validate_thresholds(override)


def test_a_partial_override_is_valid():
    assert validate_thresholds({"pg_long_query_seconds": {"critical": 30}}) == []
