"""Setting keys are data (issue 21, item 2): an ``extra`` key must be an Ultralytics train
argument (their list read from Ultralytics' own config), and generated code (a run's notebook,
the "Same in Python" snippets) keeps every recorded key and value a literal, even for a registry
row no version of the workbench would write.

The hostile CLI case (exit 2, no run registered) is ``train-extra-key-runs-code`` in
tests/hostile/commands.py.
"""

from __future__ import annotations

import ast
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from markdown_it import MarkdownIt

import yolov11
from yolov11.codegen.snippets import python_call


def _payload(target: Path) -> str:
    """A setting key that, written unquoted as ``key=1`` in a call, runs ``touch target``."""
    return f"x=__import__('os').system('touch {target}'),y"


def _only_literal_arguments(call: ast.Call) -> None:
    """Every argument of ``call`` but the first positional is a literal, or a ``**{...}`` of literals."""
    for kw in call.keywords:
        if kw.arg == "workspace":
            continue
        ast.literal_eval(kw.value)  # raises ValueError on anything that is not a plain literal


def _tags(rendered: str) -> set[str]:
    class Tags(HTMLParser):
        found: set[str] = set()

        def handle_starttag(self, tag, attrs):
            self.found.add(tag)

    parser = Tags()
    parser.feed(rendered)
    return parser.found


def _calls(tree: ast.AST) -> list[str]:
    return [ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)]


def test_extra_keys_are_ultralytics_train_arguments():
    from yolov11.compat import offline

    offline.prepare()  # before Ultralytics is imported: its import runs an online check otherwise
    from ultralytics.cfg import DEFAULT_CFG_DICT

    from yolov11.compat.trainer import train_arguments

    assert train_arguments() == set(DEFAULT_CFG_DICT)  # the file read behind the fence is Ultralytics' own config
    with pytest.raises(yolov11.UserError) as refused:
        yolov11.TrainSettings.of("yolov11n", lr_f=0.1)
    assert str(refused.value) == "--extra lr_f: not an Ultralytics train argument (did you mean lrf?)"
    with pytest.raises(yolov11.UserError) as refused:
        yolov11.TrainSettings.of("yolov11n", **{"a\nb": 1})
    assert "\n" not in str(refused.value)
    assert str(refused.value).startswith('--extra "a\\nb": not an Ultralytics train argument')
    kept = yolov11.TrainSettings.of("yolov11n", flipud=0.1, lrf=0.02)
    assert kept.extra == {"flipud": 0.1, "lrf": 0.02}


def test_python_call_keeps_a_hostile_key_a_string(tmp_path):
    key = _payload(tmp_path / "pwned")
    code = python_call("train", "r", data="hats", epochs=1, **{key: 1, "class": "x"})
    tree = ast.parse(code)
    assert _calls(tree) == ["yolov11.train"]
    _only_literal_arguments(tree.body[0].value)
    seen = {}
    recorder = type("Recorder", (), {"train": staticmethod(lambda *a, **k: seen.update(k))})
    exec(code, {"yolov11": recorder})
    assert not (tmp_path / "pwned").exists()
    assert seen == {"data": "hats", "epochs": 1, key: 1, "class": "x"}  # each key arrives as the string it was
    exec(python_call("train", lr0=float("nan")), {"yolov11": recorder})  # JSON reads NaN: it has no literal, it is written float('nan')
    assert seen["lr0"] != seen["lr0"]


def test_a_notebook_of_a_hostile_registry_row_runs_no_code(workspace, tmp_path):
    """A row as an older version (or a hand) could have written it: a hostile settings key and
    HTML in the names. The notebook's code holds them as literals, its markdown as text."""
    key = _payload(tmp_path / "pwned")
    data = "<img src=http://example.invalid/x.png>.yaml"
    settings = {"model": "yolov11n", "epochs": 1, "imgsz": 32, "seed": 0, "device": "cpu", key: 1, "name_hint": "'); import os #"}
    workspace.add_run("hostile-row", data, "<b>yolov11n</b>", settings, status="failed")
    path = yolov11.write_notebook("hostile-row", workspace=workspace)
    nb = nbformat.read(path, as_version=4)

    markdown = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    rendered = MarkdownIt("commonmark").render(markdown)  # raw HTML passes, as in Jupyter
    assert _tags(rendered) <= {"h1", "h2", "p", "strong", "code"}, rendered
    assert "&lt;b&gt;yolov11n&lt;/b&gt;" in rendered and "&lt;img src=http://example.invalid/x.png&gt;" in rendered  # shown as text
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    train = next(c for c in cells if "yolov11.train(" in c)
    for source in cells:
        tree = ast.parse(source)
        assert {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} <= {"Path", "yolov11", "WS", "result", "ds", "print"}, source
    tree = ast.parse(train)
    assert _calls(tree) == ["yolov11.train"]
    _only_literal_arguments(tree.body[0].value)
    seen = {}
    recorder = type("Recorder", (), {"train": staticmethod(lambda *a, **k: seen.update(k) or {"metrics": {}})})
    exec(train, {"yolov11": recorder, "WS": "ws"})  # the cell as Jupyter would run it, against a recorder
    assert not (tmp_path / "pwned").exists()
    assert seen[key] == 1 and seen["name_hint"] == settings["name_hint"]
