"""The package's shape, asserted from the source: no import cycles, short modules, and
each check's name declared once (in its own module)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "initcheck"
MAX_LINES = 450
#: The same word in another library's vocabulary: JAX's ``variance_scaling(scale, mode,
#: distribution)`` names its parameter "distribution", which the JAX adapter reads.
FOREIGN_WORDS = {
    ("initcheck.initializers.jax", "distribution"),  # JAX's variance_scaling parameter
    ("initcheck.models.keras_trace", "training"),  # Keras's call(..., training=) argument
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The initcheck module ``name`` refers to (a module, or the module defining it)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _dynamic(node: ast.AST, modules: dict[str, Path]) -> list[str]:
    """The modules an ``importlib.import_module(...)`` call imports: its literal name, or
    for an f-string (``f"initcheck.checks.{name}"``) every module under its literal
    prefix. The registry loads the check modules this way."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute | ast.Name)
        and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
        == "import_module"
        and node.args
    ):
        return []
    arg = node.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return [arg.value]
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        prefix = str(arg.values[0].value)
        return [m for m in modules if m.startswith(prefix)]
    return []


def _imports_static(path: Path, modules: dict[str, Path]) -> set[str]:
    """``path``'s imports by import statements alone (no ``importlib``)."""
    return _imports(path, modules, dynamic=False)


def _names(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    """The dotted names one import statement of a module in ``package`` imports."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*anchor, base] if base else anchor)
    return [f"{base}.{a.name}" for a in node.names] or [base]


def _imports(
    path: Path, modules: dict[str, Path], me: str | None = None, *, dynamic: bool = True
) -> set[str]:
    """Every initcheck module ``path`` (the module ``me``, by default its name in the
    package) imports: top-level, lazy (inside functions), ``TYPE_CHECKING`` and
    ``importlib.import_module`` imports alike. A package ``__init__``'s lazy re-export
    table is not an import statement, so it is not counted."""
    me = me or _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = _dynamic(node, modules) if dynamic else []
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = _names(node, package)
        for name in names:
            if name.split(".")[0] != "initcheck":
                continue
            target = _resolve(name, modules)
            if target is not None and target != me:
                found.add(target)
    return found


#: The registry finds its built-in checks as plugins: ``importlib.import_module`` of each
#: module under ``initcheck.checks``, registering its ``CHECK`` record. The graph counts
#: that dynamic edge only where asked (``discovery=True``).
DISCOVERY = "initcheck.registry"


def _graph(*, discovery: bool = False) -> dict[str, set[str]]:
    """The import graph; with ``discovery`` also the registry's plugin loading
    (:data:`DISCOVERY`)."""
    modules = _modules()
    graph = {name: _imports(path, modules) for name, path in modules.items()}
    if not discovery:
        static = ast.parse(modules[DISCOVERY].read_text(encoding="utf-8"))
        dynamic = {m for node in ast.walk(static) for m in _dynamic(node, modules)}
        graph[DISCOVERY] -= dynamic - _imports_static(modules[DISCOVERY], modules)
    # A submodule import runs its package's __init__ first; that edge is the package's
    # own business, not a cycle of the importer (``import initcheck.x`` needs initcheck).
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles() -> None:
    cycles = _cycles(_graph())
    assert not cycles, f"import cycles among initcheck modules: {cycles}"


def test_the_cycle_scan_sees_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    # the scanner itself (``_imports``), on a probe read as the module initcheck.checks.probe
    path = tmp_path / "probe.py"
    path.write_text(
        "from typing import TYPE_CHECKING\n"
        "import numpy\n"
        "if TYPE_CHECKING:\n    from initcheck.results import CheckResult\n"
        "def f():\n    from initcheck import registry\n"
        "    import initcheck.context\n"
        "    from ..fans import compute_fans\n"
        "    from . import _common\n"
        "def g(name):\n    import importlib\n"
        "    importlib.import_module('initcheck.settings')\n"
        "    importlib.import_module(f'initcheck.gate.{name}')\n"
    )
    found = _imports(path, _modules(), "initcheck.checks.probe")
    gate = {m for m in _modules() if m.startswith("initcheck.gate.")}
    assert gate and found == {
        "initcheck.results",  # TYPE_CHECKING
        "initcheck.registry",  # lazy, from a package
        "initcheck.context",  # lazy, plain import
        "initcheck.fans",  # relative, two levels
        "initcheck.checks._common",  # relative, one level
        "initcheck.settings",  # importlib, a literal name
        *gate,  # importlib, an f-string: every module under its prefix
    }
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_circle_even_with_the_registrys_discovery_of_its_checks() -> None:
    """With the registry's plugin loading counted too, the import graph has no circle: the
    check modules declare their record from :mod:`initcheck.checkdef` and never import the
    registry that loads them (issue 16's circle ran registry → checks → report →
    registry)."""
    assert _cycles(_graph(discovery=True)) == []


#: What a lazy import may defer: the third-party packages that cost start-up time.
HEAVY = {
    "numpy", "scipy", "jinja2", "hypothesis", "threadpoolctl", "matplotlib", "pytest_html",
    "tensorflow", "keras", "torch", "jax", "flax", "optax", "transformers",
}  # fmt: skip


def _module_level(path: Path, modules: dict[str, Path]) -> tuple[set[str], set[str]]:
    """``path``'s module-level imports that run (not in a function, not under
    ``TYPE_CHECKING``): the initcheck modules, and the third-party top-level packages."""
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    own: set[str] = set()
    third: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                for name in _names(child, package):
                    if name.split(".")[0] == "initcheck":
                        target = _resolve(name, modules)
                        if target and target != me:
                            own.add(target)
                    else:
                        third.add(name.split(".")[0])
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return own, third


def test_a_function_local_import_defers_something_heavy_or_breaks_a_cycle() -> None:
    """The rule for lazy imports: an initcheck module is imported inside a function only
    when importing it loads something heavy (its module-level imports reach numpy, SciPy,
    Jinja2, Hypothesis or a framework) or when a module-level import would close a cycle
    (the imported module already reaches the importer). Anything else is imported at the
    top, where the dependency graph shows it."""
    modules = _modules()
    level = {name: _module_level(path, modules) for name, path in modules.items()}

    def reach(name: str) -> set[str]:
        seen, todo = set(), [name]
        while todo:
            m = todo.pop()
            if m in seen:
                continue
            seen.add(m)
            todo += [*level[m][0], *([m.rpartition(".")[0]] if "." in m else [])]
        return seen

    def heavy(name: str) -> bool:
        return any(level[m][1] & HEAVY for m in reach(name))

    stray = []
    for name, path in modules.items():
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                probe = _imports_of_statement(node, name, path)
                for target in probe:
                    if not heavy(target) and name not in reach(target):
                        stray.append(f"{name}:{node.lineno} imports {target}")
    assert not stray, sorted(set(stray))
    graph = _graph(discovery=True)
    assert {m for m in modules if m.startswith("initcheck.checks.")} <= graph["initcheck.registry"]


def _imports_of_statement(node: ast.Import | ast.ImportFrom, me: str, path: Path) -> set[str]:
    """The initcheck modules one import statement of module ``me`` imports."""
    modules = _modules()
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    names = _names(node, package)
    found = {_resolve(n, modules) for n in names if n.split(".")[0] == "initcheck"}
    return {t for t in found if t and t != me}


def test_the_report_layer_imports_no_registry_and_no_check() -> None:
    """``initcheck/report`` only draws: the registry is read by :mod:`initcheck.output`,
    which hands the checks to it."""
    stray = {
        f"{name} imports {target}"
        for name, targets in _graph(discovery=True).items()
        if name == "initcheck.report" or name.startswith("initcheck.report.")
        for target in targets
        if target == "initcheck.registry"
        or target == "initcheck.checks"
        or target.startswith("initcheck.checks.")
    }
    assert not stray, sorted(stray)


def test_every_check_with_a_figure_draws_it_in_its_own_module() -> None:
    """A check with a figure is one file: its ``figure=`` is defined in the module that
    defines its record (the report layer keeps only the drawing primitives); the variance
    check shows the scaling check's figure (one figure, Var(W) against the law)."""
    from initcheck import registry

    shared = {"variance": "initcheck.checks.scaling"}
    drawn = {c.name: c for c in registry.checks() if c.figure is not None}
    assert len(drawn) >= 8, sorted(drawn)
    for name, check in drawn.items():
        own = shared.get(name, check.run.__module__)
        assert check.figure.__module__ == own, (name, check.figure.__module__)


def test_no_module_aliases_a_real_type_to_any() -> None:
    """``WeightRow = Any`` hides a type from the type checker: a type that would make an
    import cycle is imported under ``if TYPE_CHECKING:`` instead."""
    aliased = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            value = node.value if isinstance(node, ast.Assign) else None  # also A = B = Any
            if isinstance(value, ast.Name) and value.id == "Any":
                aliased.append(f"{path.name}:{node.lineno}")
    assert not aliased, aliased


def test_only_the_documented_public_modules_declare_all() -> None:
    """``__all__`` marks a public module; the list is docs/development.md's."""
    text = (PACKAGE.parent / "docs" / "development.md").read_text(encoding="utf-8")
    block = text.split("<!-- public modules: begin -->", 1)[1].split(
        "<!-- public modules: end -->"
    )[0]
    public = {line.removeprefix("- ").strip().strip("`") for line in block.strip().splitlines()}
    declaring = {
        name
        for name, path in _modules().items()
        if any(
            isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in n.targets)
            for n in ast.parse(path.read_text(encoding="utf-8")).body
        )
    }
    assert declaring == public


def test_no_module_over_450_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE.parent)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_check_names_are_literals_only_in_their_own_module() -> None:
    from initcheck import registry

    # "variance" is also the name of a declaration (``variance="he"``): the option's
    # name may be written where options are handled.
    owners = {
        c.name: c.run.__module__ for c in registry.checks() if c.name not in registry.DECLARATIONS
    }
    strays = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Constant)
                and node.value in owners
                and owners[node.value] != name
                and (name, node.value) not in FOREIGN_WORDS
            ):
                strays.append(f"{name}:{node.lineno} {node.value!r}")
    assert not strays, "check names written outside their own check module: " + ", ".join(strays)


@pytest.mark.parametrize("name", ["symmetry", "centering", "tails", "training"])
def test_each_builtin_check_is_registered_by_its_own_module(name: str) -> None:
    from initcheck import registry

    check = registry.check_named(name)
    assert check.run.__module__ == f"initcheck.checks.{name}"
