"""The layering contracts of pyproject.toml hold (import-linter): every import goes down the
layers (entry points > actors > adapters > core > data), the pure core imports no Ray, pika or
docker, and only the store imports pymongo. No modules import each other in a cycle."""
from __future__ import annotations

import subprocess

from paths import REPO, console_script


def test_import_contracts_are_kept():
    exe = console_script("lint-imports")
    assert exe, "import-linter is a test dependency (pip install -e '.[test]')"
    result = subprocess.run([exe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout
    assert "Layers: entry points > actors > adapters > core > data KEPT" in result.stdout


def test_no_import_cycles_between_modules():
    """No module of mano, actors, placement or ssm imports itself back, directly or through others.

    The graph is grimp's, and it counts every import in a module, including the ones inside
    functions: a cycle is a cycle wherever the import statement sits. Two views are checked:

    * modules: ``a.b.c -> ... -> a.b.c`` between single modules;
    * packages, which are modules too: inside every package, its direct children (each
      subpackage with everything below it) must not import each other in a cycle. This is
      what catches ``mano.lifecycle.workflows -> mano.sm.x`` while ``mano.sm.y ->
      mano.lifecycle.z``, which no single pair of files shows.

    Excluded, and why:

    * ``if TYPE_CHECKING:`` imports (``exclude_type_checking_imports=True``): they never run and
      are only allowed for names used in annotations;
    * a package's own ``__init__`` in the package view: it re-exports its children by design
      (a child importing its package's ``__init__`` back is still caught by the module view);
    * cycles between the four top-level packages themselves: they ship as one distribution and
      lean on each other by design (``mano.api`` and the CLI start the Ray runtime of
      ``actors``, whose actors wrap ``mano.lifecycle``; ``mano.lifecycle`` calls ``placement``,
      whose errors are ``mano.errors``). Their layering is what ``test_import_contracts_are_kept``
      checks.
    """
    import importlib.util

    import grimp
    import networkx as nx

    roots = ("mano", "actors", "placement", "ssm")
    for root in roots:  # not a namespace package of the same name elsewhere on sys.path (tests/placement)
        origin = importlib.util.find_spec(root).origin
        assert origin == str(REPO / root / "__init__.py"), f"{root} is imported from {origin}"
    graph = grimp.build_graph(*roots, exclude_type_checking_imports=True, cache_dir=None)
    imports = [(a, b) for a in graph.modules for b in graph.find_modules_directly_imported_by(a)]

    def lines(importer: str, imported: str) -> str:
        found = graph.get_import_details(importer=importer, imported=imported)
        return ", ".join(str(d["line_number"]) for d in found) or "?"

    def cycles(edges) -> list[str]:
        """``edges``: (node, node, why); one message per strongly connected component."""
        digraph = nx.DiGraph()
        for a, b, why in edges:
            if a != b:
                digraph.add_edge(a, b)
                digraph.edges[a, b].setdefault("why", []).append(why)
        found = []
        for component in nx.strongly_connected_components(digraph):
            if len(component) > 1:
                sub = digraph.subgraph(component)
                found.append(f"{' <-> '.join(sorted(component))}:\n" + "\n".join(
                    f"  {a} -> {b}: {'; '.join(sorted(sub.edges[a, b]['why']))}" for a, b in sorted(sub.edges)))
        return found

    def child(package: str, module: str) -> str | None:
        """The child of ``package`` that is or contains ``module``; None for a module outside it."""
        if not module.startswith(package + "."):
            return None
        return ".".join(module.split(".")[:package.count(".") + 2])

    found = cycles((a, b, f"line {lines(a, b)}") for a, b in imports)
    for package in sorted(m for m in graph.modules if graph.find_children(m)):
        found += [f"in package {package}: {c}" for c in cycles(
            (child(package, a), child(package, b), f"{a} -> {b} (line {lines(a, b)})")
            for a, b in imports if child(package, a) and child(package, b))]
    assert not found, "import cycles:\n" + "\n".join(found)


def test_every_ray_call_goes_through_actors_calls():
    """``.remote(...)``, ``ray.get``, ``ray.wait``, ``ray.cancel`` and ``ray.get_actor`` appear in actors/calls.py
    only: one place translates Ray's failures, applies timeouts and retries (a call made
    elsewhere once turned a restarting actor into an immediate failure). ``@ray.remote`` on a
    class or function declares an actor or task; it is not a call."""
    import ast

    offenders = []
    for path in sorted(p for root in ("mano", "actors", "placement", "ssm") for p in (REPO / root).rglob("*.py")):
        if path == REPO / "actors" / "calls.py":
            continue
        tree = ast.parse(path.read_text())
        decorators = {id(d) for node in ast.walk(tree)
                      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                      for d in node.decorator_list}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or id(node) in decorators:
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and (
                    func.attr == "remote"
                    or (func.attr in ("get", "wait", "cancel", "get_actor") and isinstance(func.value, ast.Name)
                        and func.value.id == "ray")):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno} {ast.unparse(func)}")
    assert offenders == [], "call Ray through actors.calls: " + ", ".join(offenders)
