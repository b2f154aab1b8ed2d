"""The direction rule: app.py -> pages -> yolov11 -> libraries; yolov11 never imports gradio."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_source_never_imports_gradio_or_pages():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "yolov11").rglob("*.py")
                 if _imports(p) & {"gradio", "gradio_client", "pages", "app"}]
    assert offenders == []


def test_importing_the_whole_core_loads_no_gradio():
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "yolov11").rglob("*.py")
        if p.name != "__main__.py"
    )
    code = ("import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
            + "print(sorted(m for m in sys.modules if m.split('.')[0] == 'gradio'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_pages_call_only_the_public_core():
    """pages/ hold no ML logic: no torch, ultralytics or onnxruntime there."""
    offenders = {str(p.relative_to(ROOT)): sorted(_imports(p) & {"torch", "ultralytics", "onnxruntime", "cv2"})
                 for p in (ROOT / "pages").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def _ultralytics_imports(path: Path) -> list[str]:
    """Ultralytics modules a file imports, other than the public top level (``import ultralytics``,
    ``from ultralytics import YOLO``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("ultralytics.")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("ultralytics."):
            found.append(node.module)
    return found


def test_ultralytics_internals_only_behind_the_fence():
    """yolov11/compat/ is the one place that relies on Ultralytics beyond its public API."""
    offenders = {
        str(p.relative_to(ROOT)): _ultralytics_imports(p)
        for p in [*(ROOT / "yolov11").rglob("*.py"), *(ROOT / "pages").rglob("*.py"), ROOT / "app.py"]
        if "compat" not in p.relative_to(ROOT).parts
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_fence_module_says_what_it_relies_on():
    for p in (ROOT / "yolov11" / "compat").glob("*.py"):
        doc = ast.get_docstring(ast.parse(p.read_text())) or ""
        assert p.name == "__init__.py" or "Relies on:" in doc, f"{p.name}: its docstring must name the Ultralytics internals it relies on"
        assert (p.stem in (ast.get_docstring(ast.parse((p.parent / "__init__.py").read_text())) or "")
                or p.name == "__init__.py"), f"{p.name} is missing from the fence's index"


def test_the_package_exposes_its_api_without_shadowing_a_submodule():
    import importlib
    import pkgutil

    import yolov11

    subs = {m.name for m in pkgutil.iter_modules(yolov11.__path__)}
    for name in yolov11.__all__:
        assert name not in subs, f"yolov11.{name} is both a public function and a submodule"
    for sub in subs - {"__main__"}:
        assert importlib.import_module(f"yolov11.{sub}").__name__ == f"yolov11.{sub}"


def test_pages_call_only_the_public_api():
    """pages/ reach the core through ``yolov11``'s public names only (``yolov11.__all__``)."""
    import yolov11

    bad = {}
    for p in (ROOT / "pages").rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("yolov11."):
                bad.setdefault(p.name, []).append(node.module)
            elif isinstance(node, ast.ImportFrom) and node.module == "yolov11":
                bad.setdefault(p.name, []).extend(a.name for a in node.names if a.name not in yolov11.__all__)
            elif isinstance(node, ast.Import):
                bad.setdefault(p.name, []).extend(a.name for a in node.names if a.name.startswith("yolov11."))
    assert {k: v for k, v in bad.items() if v} == {}


def _module_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports, lazy (function-level) imports included; a
    package's own ``__init__`` is not counted as a dependency of its children."""
    mods = {".".join(p.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__"): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = name.split(".")[: len(name.split(".")) - node.level + (path.name == "__init__.py")]
                    base = ".".join(parts + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in mods and t != name and not name.startswith(t + ".") and t != package.name}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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


def test_no_import_circles_inside_the_core():
    """Lazy imports count: a circle closed inside a function still ties the modules together."""
    assert _circles(_module_graph(ROOT / "yolov11")) == []


def test_the_circle_check_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_fence_imports_nothing_above_it():
    """compat/ may use only itself, errors and the workspace's root: the floors above install
    themselves through offline.when_prepared instead."""
    allowed = {"yolov11.errors", "yolov11.workspace.paths"}
    graph = _module_graph(ROOT / "yolov11")
    upward = {m: sorted(t for t in targets if not t.startswith("yolov11.compat") and t not in allowed)
              for m, targets in graph.items() if m.startswith("yolov11.compat")}
    assert {m: t for m, t in upward.items() if t} == {}


def _closures(path: Path) -> list[str]:
    """Functions and lambdas defined inside a ``build_*`` function (handlers belong at module level)."""
    found = []
    for top in ast.parse(path.read_text()).body:
        if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef)) and top.name.startswith("build_"):
            for node in ast.walk(top):
                if node is not top and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                    found.append(f"{path.name}:{node.lineno} in {top.name}")
    return found


def test_no_handler_closures_in_pages():
    """One handler pattern: build_<tab> lays out and wires, handlers are module-level (bind)."""
    assert [c for p in sorted((ROOT / "pages").glob("*.py")) for c in _closures(p)] == []


def test_files_stay_small_and_the_core_keeps_its_floors():
    sources = [p for p in ROOT.rglob("*.py") if not {".venv", ".git", "workspace"} & set(p.relative_to(ROOT).parts[:1])]
    long = {str(p.relative_to(ROOT)): n for p in sources if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}
    top = sorted(p.name for p in (ROOT / "yolov11").glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert len(top) <= 7, top  # the rest lives in capability folders
