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
    ("representation", ("drumgen.hvo", "drumgen.meter")),
    ("formats and meanings", ("drumgen.drum_maps", "drumgen.midi", "drumgen.fills", "drumgen.controls", "drumgen.metrics")),
    ("reading, data, sampling, showing", ("drumgen.bars", "drumgen.control_input", "drumgen.lanes", "drumgen.takes",
                                          "drumgen.data", "drumgen.augment",
                                          "drumgen.sampling", "drumgen.thresholds", "drumgen.judges",
                                          "drumgen.text_grid", "drumgen.piano_roll", "drumgen.audio", "drumgen.audio_in", "drumgen.audio_tempo",
                                          "drumgen.onset_net", "drumgen.recording")),
    ("models", ("drumgen.models", "drumgen.models.")),
    ("the path, training, figures", ("drumgen.pipeline", "drumgen.training", "drumgen.evaluate", "drumgen.fidelity",
                                     "drumgen.edit_figures", "drumgen.meter_figures", "drumgen.paired", "drumgen.meter_probes",
                                     "drumgen.audio_figures", "drumgen.selection")),
    ("interfaces", ("drumgen.cli", "drumgen.__main__", "drumgen.widgets", "drumgen.take_grid", "drumgen.request_files",
                    "drumgen.webapp", "drumgen.take_session", "drumgen.page_input", "drumgen.page_limits",
                    "drumgen.previews", "drumgen.bench", "drumgen.export_page", "drumgen.recording_page",
                    "drumgen.tap_pad")),
    ("entry points", ("drumgen.bench_app", "drumgen.fingerprint", "drumgen.deploy", "app", "train.")),
]
PACKAGE_INIT = "drumgen"  # the package's own __init__: lazy conveniences over the layers, above them all
MAX_LINES = 400
LONGER = {  # rooms allowed past MAX_LINES, and why
    "drumgen/widgets.py": "one component: its HTML, CSS and JavaScript templates",
    "drumgen/tap_pad.py": "one component (the tap pad): its HTML, CSS and JavaScript templates",
    "drumgen/take_grid.py": "one component (the take's grid): its HTML, CSS and JavaScript templates, and its value",
    "drumgen/audio_figures.py": "one figures script: the corpus it renders, the scores, the table (split when it grows)",
    "drumgen/models/controlled.py": "one model read top to bottom (nanoGPT's model.py): config, encoder, decoder, "
                                    "training batches, generation",
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
    """The package modules a module imports anywhere in its file (top level and inside functions),
    and those it names for importlib ("drumgen.models.vae:MonotonicGrooveVAE", import_module("...")):
    a registry's lazy import is an import all the same."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def resolve(target: str) -> str | None:
        while target and target not in known:  # `from .hvo import X` names a module's member
            target = target.rpartition(".")[0]
        return target or None

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            lazy = re.fullmatch(r"((?:drumgen|train)(?:\.\w+)+)(?::\w+)?", node.value)
            if lazy and ":" in node.value:
                targets = [lazy.group(1)]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            targets = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        for target in targets:
            module = resolve(target)
            if module and module != name:
                found.add(module)
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


def test_imports_are_found_however_they_are_written(tmp_path):
    """Relative, absolute, inside a function, and named for importlib: each is an edge."""
    source = tmp_path / "mod.py"
    source.write_text("from .. import hvo\nfrom ..midi import Song\nimport drumgen.controls as C\n"
                      "def f():\n    from ..sampling import to_hvo\n"
                      "KINDS = {'x': 'drumgen.models.vae:MonotonicGrooveVAE'}\n"
                      "def g():\n    import importlib\n    importlib.import_module('drumgen.pipeline')\n")
    known = set(sources())
    assert imports_of("drumgen.models.mod", source, known) == {
        "drumgen.hvo", "drumgen.midi", "drumgen.controls", "drumgen.sampling", "drumgen.models.vae", "drumgen.pipeline"}


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
