"""The package's shape, checked from its imports: no circle (also none through function-level
imports), no module importing from a layer above its own (models never import evaluation, the
page or the path), rooms of a readable size, and a README whose layout table names what is there."""
import ast
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Bottom to top: a module may import from its own layer or any below it, never from one above.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("representation", ("drumgen.hvo",)),
    ("formats and meanings", ("drumgen.midi", "drumgen.controls", "drumgen.metrics")),
    ("reading, data, sampling, showing", ("drumgen.control_input", "drumgen.lanes", "drumgen.takes", "drumgen.data",
                                          "drumgen.sampling", "drumgen.thresholds", "drumgen.judges",
                                          "drumgen.text_grid", "drumgen.piano_roll", "drumgen.audio")),
    ("models", ("drumgen.models", "drumgen.models.")),
    ("the path, training, figures", ("drumgen.pipeline", "drumgen.training", "drumgen.evaluate", "drumgen.fidelity")),
    ("interfaces", ("drumgen.cli", "drumgen.__main__", "drumgen.widgets", "drumgen.request_files", "drumgen.webapp",
                    "drumgen.bench")),
    ("entry points", ("drumgen.bench_app", "drumgen.fingerprint", "app", "train.")),
]
PACKAGE_INIT = "drumgen"  # the package's own __init__: lazy conveniences over the layers, above them all
MAX_LINES = 400
LONGER = {  # rooms allowed past MAX_LINES, and why
    "drumgen/widgets.py": "one component: its HTML, CSS and JavaScript templates",
}


def sources() -> dict[str, Path]:
    """Module name -> file, for the package, app.py and train/."""
    files = sorted((ROOT / "drumgen").rglob("*.py")) + [ROOT / "app.py"] + sorted((ROOT / "train").glob("*.py"))
    out = {}
    for path in files:
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules a module imports anywhere in its file (top level and inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `from . import midi` names a module; `from .hvo import X` a name
                target = target.rpartition(".")[0]
            if target and target != name and target != PACKAGE_INIT:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    files = sources()
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def layer(name: str) -> int:
    if name == PACKAGE_INIT:
        return len(LAYERS)
    for index, (_, members) in enumerate(LAYERS):
        if any(name == m or (m.endswith(".") and name.startswith(m)) for m in members):
            return index
    raise AssertionError(f"{name} is in no layer of tests/test_layout.py: put it where it belongs")


def test_every_module_has_a_layer():
    for name in graph():
        layer(name)


def check_no_upward_import(edges: dict[str, set[str]]) -> None:
    upward = [f"{a} ({LAYERS[layer(a)][0]}) imports {b} ({LAYERS[layer(b)][0]})"
              for a, targets in edges.items() for b in targets if layer(b) > layer(a)]
    assert not upward, "\n".join(upward)


def check_no_circle(edges: dict[str, set[str]]) -> None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError("import circle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_no_import_runs_up_a_layer():
    check_no_upward_import(graph())


def test_no_import_circle():
    check_no_circle(graph())


def test_the_checks_can_fail():
    """A circle and an upward import written on purpose are both found."""
    fake = {"drumgen.hvo": {"drumgen.models.base"}, "drumgen.models.base": {"drumgen.hvo"}}
    with pytest.raises(AssertionError, match="import circle"):
        check_no_circle(fake)
    with pytest.raises(AssertionError, match="imports drumgen.models.base"):
        check_no_upward_import(fake)


def test_rooms_are_a_readable_size():
    long = {str(p.relative_to(ROOT)): n for p in sources().values()
            if (n := len(p.read_text().splitlines())) > MAX_LINES and str(p.relative_to(ROOT)) not in LONGER}
    assert not long, f"over {MAX_LINES} lines (split them, or say in LONGER why one idea needs it): {long}"


def test_readme_layout_names_every_module():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Layout"):]
    section = section[: section.index("\n## ", 4)] if "\n## " in section[4:] else section
    named = set(re.findall(r"`((?:drumgen|train|tests|checkpoints|assets|soundfonts)/[\w/.]*|app\.py)`", section))
    for path in named:
        assert (ROOT / path).exists(), f"the README's layout names {path}, which is not there"
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "drumgen").rglob("*.py") if p.name != "__init__.py"}
    missing = sorted(m for m in modules if m not in named and str(Path(m).parent) + "/" not in named)
    assert not missing, f"modules the README's layout does not name: {missing}"
