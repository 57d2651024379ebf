"""Make the project's modules, module_utils and lab importable the way Ansible would load them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import ansible.module_utils
import pytest

ROOT = Path(__file__).resolve().parent.parent
# `from ansible.module_utils.perf_x import ...` in our modules resolves to module_utils/perf_x.py,
# exactly as Ansible's module_utils = ./module_utils setting does at run time.
if str(ROOT / "module_utils") not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(str(ROOT / "module_utils"))
for folder in ("library", "lab"):
    if str(ROOT / folder) not in sys.path:
        sys.path.insert(0, str(ROOT / folder))


class ModuleResult(dict):
    """What a module printed, plus whether it failed."""

    @property
    def failed(self):
        return bool(self.get("failed"))


def run_module(module, args, capsys, check_mode=False):
    """Run a module's main() in-process with real arguments, the way ansible-core 2.19 feeds them."""
    from ansible.module_utils.testing import patch_module_args

    args = dict(args)
    if check_mode:
        args["_ansible_check_mode"] = True
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    output = capsys.readouterr().out
    return ModuleResult(json.loads(output))


@pytest.fixture
def module_runner(capsys):
    return lambda module, args, check_mode=False: run_module(module, args, capsys, check_mode)


@pytest.fixture(scope="session")
def project_root():
    return ROOT
