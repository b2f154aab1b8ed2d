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
