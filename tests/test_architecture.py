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
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "yolov11").rglob("*.py") if _imports(p) & {"gradio", "gradio_client", "pages", "app"}]
    assert offenders == []


def test_importing_the_whole_core_loads_no_gradio():
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "yolov11").rglob("*.py")
        if p.name != "__main__.py"
    )
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules) + "print(sorted(m for m in sys.modules if m.split('.')[0] == 'gradio'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_pages_call_only_the_public_core():
    """pages/ hold no ML logic: no torch, ultralytics or onnxruntime there."""
    offenders = {str(p.relative_to(ROOT)): sorted(_imports(p) & {"torch", "ultralytics", "onnxruntime", "cv2"}) for p in (ROOT / "pages").rglob("*.py")}
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
        assert p.stem in (ast.get_docstring(ast.parse((p.parent / "__init__.py").read_text())) or "") or p.name == "__init__.py", f"{p.name} is missing from the fence's index"


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
