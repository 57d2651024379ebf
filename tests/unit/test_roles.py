"""Each role's meta/argument_specs.yml documents exactly its defaults/main.yml, with the same values."""

import pytest
import yaml


def roles(project_root):
    return sorted(path.parent.parent for path in project_root.glob("roles/*/defaults/main.yml"))


@pytest.mark.parametrize("role", ["db_diagnose", "incident", "redis_diagnose"])
def test_argument_specs_document_every_default_with_its_value(project_root, role):
    folder = project_root / "roles" / role
    defaults = yaml.safe_load((folder / "defaults/main.yml").read_text())
    specs = yaml.safe_load((folder / "meta/argument_specs.yml").read_text())["argument_specs"]
    documented = {}
    for entry in specs.values():
        for name, option in entry["options"].items():
            documented.setdefault(name, option.get("default"))
    assert set(defaults) == set(documented)
    for name, value in defaults.items():
        assert documented[name] == value, name


def test_every_role_is_covered(project_root):
    assert [path.name for path in roles(project_root)] == ["db_diagnose", "incident", "redis_diagnose"]
