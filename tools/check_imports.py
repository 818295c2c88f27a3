"""The import-layer contract of poser_env and poser_agents, checked from the source (AST).

Run by ``make test`` (``tests/test_import_layers.py``) and by pre-commit; by hand:
``python tools/check_imports.py`` prints one line per violation and exits 1 if there is any.

The contract (docs/architecture layers, /DESIGN.md):

- ``poser_env`` never imports ``poser_agents``: agents sit above the env and reach it through
  Gymnasium's API.
- ``poser_env.world`` is the bottom layer (the simulator and its words): it never imports the env,
  its configuration, registry, observation and wrappers, the components built on the world
  (critics, experts, extractors, evaluators, encoders), the backends, the ``poser_env`` package
  itself (whose ``__init__`` registers the env) or the agents. It may import ``poser_env.types``
  and small shared modules of ``poser_env`` that import none of those.
- ``poser_env.types`` (the data model shared by every component) imports nothing of the project.
- ``poser_env.backends`` holds the shared model machinery (``models``, ``pool``, ``chat``,
  ``serving``): it sits below the roles that use it and never imports a critic, expert,
  extractor, evaluator, the presets or the env. It may import a role's contract (``critics.base``,
  ``experts.base``, ...: protocols over ``poser_env.types``), which serving's stand-ins implement. (Its other modules are the deprecated old paths
  of moved modules, which re-export the new ones: see ``poser_env/deprecation.py``.)
- No import cycle between modules. Imports inside functions count: a lazy import is still a
  dependency, and a cycle through one is a cycle that a later refactor turns into a crash.
  Imports under ``if TYPE_CHECKING:`` do not count for cycles (they never run).
- No private name (``_x``) imported from another module: what another module needs is public
  API, named and documented as such.

Stdlib only (``ast``), so it runs before anything is installed. import-linter would do the layers
but not the private names; a 150-line checker costs less than a dependency and its config.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("poser_env", "poser_agents")

#: Above the world: what ``poser_env.world`` must not import (each a module or a package, with
#: everything under it).
ABOVE_THE_WORLD: tuple[str, ...] = (
    "poser_env.env",
    "poser_env.episode",
    "poser_env.config",
    "poser_env.registry",
    "poser_env.observation",
    "poser_env.wrappers",
    "poser_env.presets",
    "poser_env.critics",
    "poser_env.experts",
    "poser_env.extractors",
    "poser_env.evaluators",
    "poser_env.encoders",
    "poser_env.backends",
    "poser_agents",
)


@dataclass(frozen=True)
class Rule:
    """Modules under ``importer`` must not import modules under any of ``forbidden``, nor the
    modules in ``forbidden_exact`` (a package's ``__init__`` alone, not what is under it)."""

    importer: str
    forbidden: tuple[str, ...]
    why: str
    forbidden_exact: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()  # modules under ``forbidden`` that may still be imported


#: The shared model machinery, and what it sits below.
MACHINERY: tuple[str, ...] = (
    "poser_env.backends.models",
    "poser_env.backends.pool",
    "poser_env.backends.chat",
    "poser_env.backends.serving",
)
ROLES: tuple[str, ...] = (
    "poser_env.critics",
    "poser_env.experts",
    "poser_env.extractors",
    "poser_env.evaluators",
    "poser_env.presets",
    "poser_env.env",
    "poser_env.episode",
    "poser_agents",
)
CONTRACTS: tuple[str, ...] = (
    "poser_env.critics.base",
    "poser_env.experts.base",
    "poser_env.extractors.base",
    "poser_env.evaluators.base",
)

LAYERS: tuple[Rule, ...] = (
    Rule(
        "poser_env.types",
        ("poser_env", "poser_agents"),
        "the data model imports nothing of the project (but the deprecation helper, a leaf)",
        allowed=("poser_env.deprecation",),
    ),
    *(
        Rule(m, ROLES, "the shared model machinery sits below the roles that use it", allowed=CONTRACTS)
        for m in MACHINERY
    ),
    Rule("poser_env.world", ABOVE_THE_WORLD, "the world is the bottom layer", forbidden_exact=("poser_env",)),
    Rule("poser_env", ("poser_agents",), "the env never imports the agents"),
)


@dataclass(frozen=True)
class Import:
    """One import statement's edge: ``source`` imports ``target`` (both project modules)."""

    source: str
    target: str
    line: int
    names: tuple[str, ...]  # the names taken from the target by ``from target import ...``
    lazy: bool  # inside a function (runs when called, not at import)
    type_only: bool  # under ``if TYPE_CHECKING:`` (never runs)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Every module of the packages, by dotted name."""
    mods: dict[str, Path] = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            mods[module_name(path, root)] = path
    return mods


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """The project imports of one module, with where and how they happen."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST, lazy: bool, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, True, type_only)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), lazy, True)
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), lazy, type_only)
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    target = _known(alias.name, modules)
                    if target:
                        found.append(Import(module, target, child.lineno, (), lazy, type_only))
            elif isinstance(child, ast.ImportFrom):
                base = (
                    _resolve_relative(module, is_package, child.level, child.module)
                    if child.level
                    else (child.module or "")
                )
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    if sub in modules:  # ``from pkg import submodule``
                        found.append(Import(module, sub, child.lineno, (), lazy, type_only))
                    elif (target := _known(base, modules)) is not None:
                        found.append(Import(module, target, child.lineno, (alias.name,), lazy, type_only))
            else:
                visit(child, lazy, type_only)

    visit(tree, False, False)
    return found


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The project module that ``import name`` loads, or None for a third-party module."""
    return name if name in modules else None


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> list[Import]:
    modules = project_modules(root, packages)
    return [imp for mod, path in modules.items() for imp in imports_of(mod, path, modules)]


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_violations(edges: list[Import], rules: tuple[Rule, ...] = LAYERS) -> list[str]:
    """One line per import that goes against a rule (every rule whose importer matches applies)."""
    out = []
    for e in edges:
        for rule in rules:
            if not _under(e.source, rule.importer) or e.target == e.source:
                continue
            hit = next((f for f in rule.forbidden if _under(e.target, f)), None)
            if hit is not None and any(_under(e.target, a) for a in rule.allowed):
                hit = None
            if hit is None and e.target in rule.forbidden_exact:
                hit = e.target
            if hit is not None:
                out.append(f"{e.source}:{e.line} imports {e.target}: {rule.why} (it must not import {hit})")
                break  # one line per import: the most specific rule (LAYERS lists those first)
    return out


def cycles(edges: list[Import]) -> list[list[str]]:
    """The import cycles (strongly connected components of two or more modules, or a module that
    imports itself), each sorted; imports under ``TYPE_CHECKING`` left out."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        if not e.type_only:
            graph.setdefault(e.source, set()).add(e.target)
            graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:  # Tarjan's algorithm; the graph has about 150 nodes
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph[v]:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return sorted(found)


def private_imports(edges: list[Import]) -> list[str]:
    """One line per private name (``_x``, not ``__x__``) imported from another module."""
    return [
        f"{e.source}:{e.line} imports private {name} from {e.target}: make it public in {e.target}"
        for e in edges
        for name in e.names
        if name.startswith("_") and not (name.startswith("__") and name.endswith("__")) and e.target != e.source
    ]


def violations(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    """Every breach of the contract, one line each (empty when the tree keeps it)."""
    edges = import_graph(root, packages)
    out = layer_violations(edges)
    out += [f"import cycle: {' <-> '.join(c)}" for c in cycles(edges)]
    out += private_imports(edges)
    return out


def main(argv: list[str] | None = None) -> int:
    root = Path(argv[0]).resolve() if argv else ROOT
    found = violations(root)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} import-contract violation(s); the contract is in {Path(__file__).name}'s docstring")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
