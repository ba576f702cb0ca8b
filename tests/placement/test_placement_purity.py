"""``placement`` is pure: it never imports Ray, pika, pymongo or docker (only ``actors`` may)."""

from __future__ import annotations

import ast
import subprocess
import sys

from placement_checks import REPO

FORBIDDEN = {"ray", "pika", "pymongo", "docker"}


def test_no_module_of_the_package_imports_an_adapter_library():
    offenders = []
    for path in sorted((REPO / "placement").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_every_module_loads_none_of_them():
    code = (
        "import sys, pkgutil, importlib, placement\n"
        "for m in pkgutil.iter_modules(placement.__path__): importlib.import_module('placement.' + m.name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN)!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
