"""The import graph of ``src/opensts`` has the shape docs/ARCHITECTURE.md draws.

- No import cycles between modules (imports made only for type checking are left out: they do not
  run).
- Layers import only downwards, in the order of docs/ARCHITECTURE.md: the command line over IAM
  as code (``iac``, which calls actions in-process) over the HTTP edge over the console's sign-in and
  sessions (``console``) over the audit trail over the registry of every action (``api``) over the actions (``sts``, ``iam``,
  independent of each other) over the pipeline (``actions``, ``fields``, ``params``) over the
  runtime over ``access`` over ``federation`` and ``store`` over ``identity`` over the pure
  ``policy`` and ``tokens`` over the leaves (``cache``, ``config``, ``clock``, ``errors``).
- ``policy`` and ``tokens`` import nothing else of ours.
- No IAM action module imports another: they share ``iam/{common,fields,entities,tagging,pagination,shapes}``.
"""

from __future__ import annotations

import grimp
import pytest

PACKAGE = "opensts"
IAM_SHARED = {"common", "fields", "entities", "tagging", "pagination", "shapes", "certificates"}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE, exclude_type_checking_imports=True)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    assert _cycles(graph) == []


def test_layers_import_only_downwards(graph: grimp.ImportGraph) -> None:
    layers = (
        grimp.Layer("opensts.__main__", "opensts.cli", "opensts.commands", independent=False),
        "opensts.iac",
        "opensts.server",
        "opensts.console",
        "opensts.audit",
        "opensts.api",
        grimp.Layer("opensts.sts", "opensts.iam", independent=True),
        "opensts.actions",
        "opensts.fields",
        "opensts.params",
        "opensts.runtime",
        grimp.Layer("opensts.access", "opensts.credentials_cache", "opensts.brute_force", independent=True),
        grimp.Layer("opensts.federation", "opensts.store", independent=True),
        "opensts.identity",
        grimp.Layer("opensts.policy", "opensts.tokens", independent=True),
        grimp.Layer("opensts.cache", "opensts.config", "opensts.clock", "opensts.errors", independent=True),
    )
    illegal = graph.find_illegal_dependencies_for_layers(layers=layers)
    assert not illegal, [
        (d.importer, d.imported, [(sorted(r.heads), r.middle, sorted(r.tails)) for r in d.routes]) for d in sorted(illegal, key=lambda d: (d.importer, d.imported))
    ]


@pytest.mark.parametrize("pure", ["opensts.policy", "opensts.tokens"])
def test_pure_packages_import_nothing_else_of_ours(graph: grimp.ImportGraph, pure: str) -> None:
    outside = {
        imported
        for module in graph.find_children(pure) | graph.find_descendants(pure) | {pure}
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.startswith(PACKAGE + ".") and not imported.startswith(pure + ".") and imported != pure
    }
    assert outside == set()


def test_iam_action_modules_do_not_import_each_other(graph: grimp.ImportGraph) -> None:
    def area(module: str) -> str | None:
        parts = module.split(".")
        if len(parts) < 3 or parts[:2] != [PACKAGE, "iam"] or parts[2] in IAM_SHARED:
            return None
        return parts[2]

    crossing = sorted(
        (module, imported)
        for module in graph.find_descendants("opensts.iam")
        if area(module)
        for imported in graph.find_modules_directly_imported_by(module)
        if area(imported) and area(imported) != area(module)
    )
    assert crossing == []
