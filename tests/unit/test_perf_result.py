import pytest
from ansible.module_utils.perf_result import classify, make_record, worst_status

ABOVE = {"warning": 1, "critical": 5, "direction": "above"}
BELOW = {"warning": 95, "critical": 90, "direction": "below"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "ok"), (0.999, "ok"), (1, "warning"), (4.99, "warning"), (5, "critical"), (600, "critical")],
)
def test_grades_values_above_a_threshold_at_its_boundaries(value, expected):
    assert classify(value, ABOVE) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(100, "ok"), (95, "ok"), (94.99, "warning"), (90, "warning"), (89.99, "critical"), (0, "critical")],
)
def test_grades_values_below_a_threshold_at_its_boundaries(value, expected):
    assert classify(value, BELOW) == expected


def test_a_value_not_measured_yet_is_ok_not_an_alarm():
    assert classify(None, ABOVE) == "ok"


def test_worst_status_orders_critical_over_failed_over_warning():
    assert worst_status(["ok", "warning", "critical"]) == "critical"
    assert worst_status(["ok", "failed", "critical"]) == "critical"
    assert worst_status(["ok", "failed", "warning"]) == "failed"
    assert worst_status(["skipped", "ok"]) == "ok"
    assert worst_status([]) == "skipped"


def test_a_record_refuses_an_unknown_status():
    with pytest.raises(ValueError, match="unknown check status"):
        make_record("x", "bad")
