"""Imports run one way: cli -> experiments, swarm, settings_doc -> gateway -> leader ->
agents -> services -> core; no module imports itself through others.

Every import of every module counts: top-level, inside functions, and under
`if TYPE_CHECKING:` (a typing-only import is still a dependency a reader must follow, and
a circle hidden behind one is still a circle). The package is read as source (ast), so
nothing is imported to check it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import conclave

ROOT = Path(conclave.__file__).parent

# Rank of each top-level part of the package: a module may import only parts of a lower
# rank, its own part, or the core (rank 0, whose modules may import each other).
RANKS = {
    "cli": 6,
    "settings_doc": 6,  # renders docs/configuration.md from every deployable's settings
    "experiments": 5,
    "swarm": 5,
    "deploy": 5,
    "gateway": 4,
    "leader": 3,
    "agents": 2,
    "services": 1,
    # the core: leaf modules every layer may use
    "__init__": 0,
    "addresses": 0,
    "config": 0,
    "errors": 0,
    "grpc_channels": 0,
    "grpc_decode": 0,
    "grpc_server": 0,
    "grpc_status": 0,
    "redact": 0,
    "settings_fields": 0,
    "swarm_security": 0,
    "startup": 0,
    "v1": 0,
    "zeroconf_options": 0,
}
# Parts that stand apart: they may use the core and nothing else.
INDEPENDENT = {"deploy"}


def module_files() -> dict[str, Path]:
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = ["conclave", *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = module_files()


def imported(module: str, path: Path) -> Iterator[str]:
    """Every conclave module `module` imports, anywhere in its source."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _known(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield from _known(submodule if submodule in MODULES else base)


def _known(name: str) -> Iterator[str]:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]  # `import conclave.x.y` names a module by a prefix
    if name.startswith("conclave"):
        yield name


GRAPH = {m: sorted(set(imported(m, p)) - {m}) for m, p in MODULES.items()}


def part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_part_of_the_package_has_a_layer():
    assert sorted({part(m) for m in MODULES} - set(RANKS)) == []


def test_no_import_runs_up_a_layer_or_sideways():
    wrong = []
    for module, targets in GRAPH.items():
        here = part(module)
        for target in targets:
            there = part(target)
            if there == here or RANKS[there] == 0:
                continue
            if here in INDEPENDENT or RANKS[there] >= RANKS[here]:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_no_module_imports_itself_through_others():
    found = [" <-> ".join(sorted(c)) for c in circles(GRAPH)]
    assert not found, "import circles:\n" + "\n".join(found)


def circles(graph: dict[str, list[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(graph[target])))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_the_checks_see_function_level_and_typing_only_imports(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from conclave.gateway.app import create_app\n"
        "def later():\n"
        "    import conclave.leader.server\n"
        "    from conclave.leader import rounds\n"
    )
    assert sorted(imported("conclave.probe", source)) == [
        "conclave.gateway.app",
        "conclave.leader.rounds",
        "conclave.leader.server",
    ]
    assert circles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [{"a", "b", "c"}]


def test_one_module_makes_the_leader_stub():
    """Every client of the leader goes through `conclave.leader.client`."""
    making = [
        module
        for module, path in MODULES.items()
        if not module.startswith("conclave.v1")
        and "LeaderServiceStub(" in path.read_text(encoding="utf-8")
    ]
    assert making == ["conclave.leader.client.core"]
