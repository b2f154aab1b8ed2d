"""A run's notebook (python -m yolov11 notebook, /download_notebook) reruns the run.

One run that finds things is trained, evaluated and exported; its notebook is written by the
CLI and executed headless (nbclient + ipykernel). Training on the CPU with a fixed seed is
deterministic, so the rerun's metrics equal the run's.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

import yolov11
from yolov11.data.demo import write_demo

from helpers import ROOT


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The conftest trained_run recipe (mAP50 about 0.6), evaluated once and exported once."""
    base = tmp_path_factory.mktemp("notebook")
    ws = yolov11.Workspace.at(base / "ws")
    write_demo(base / "hardhat-64", n_images=64, size=128, seed=1, val_fraction=0.25)
    data = yolov11.import_dataset(base / "hardhat-64", workspace=ws)
    r = yolov11.train(data["name"], "yolov11n", workspace=ws, epochs=25, imgsz=128, batch=8, close_mosaic=5, workers=0, seed=0)
    assert r["metrics"]["mAP50"] > 0.3, r  # equal zeros would prove nothing
    yolov11.evaluate(run=r["run"], workspace=ws)
    yolov11.export_model(run=r["run"], workspace=ws, repeats=2)
    return ws, r, base


def _cli(ws, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "yolov11", "--workspace", str(ws.root), *args], capture_output=True, text=True, env=env, timeout=300)


def _result_of(cell) -> object:
    out = [o for o in cell.outputs if o.output_type == "execute_result"]
    assert out, cell.source
    return ast.literal_eval(out[-1]["data"]["text/plain"])


def test_notebook_reruns_the_run_with_its_metrics(finished):
    ws, run, base = finished
    proc = _cli(ws, "notebook", "--run", run["run"], "--out", str(base / "nb" / "run.ipynb"), "--json")
    assert proc.returncode == 0, proc.stderr
    path = json.loads(proc.stdout)["path"]
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds[0] == "markdown"
    code = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and i > 1:
            assert nb.cells[i - 1].cell_type == "markdown", cell.source  # each step says what it does
    steps = [next((c for c in code if needle in c.source), None) for needle in ("import_dataset(", "train(", "evaluate(", "export_model(", "predict(")]
    assert all(steps), [c.source[:60] for c in code]
    assert [code.index(s) for s in steps] == sorted(code.index(s) for s in steps)  # in the order the run went
    assert "seed=0" in steps[1].source
    assert f"{run['metrics']['mAP50']:.4f}" in "".join(c.source for c in nb.cells if c.cell_type == "markdown")  # what the app showed

    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(base / "nb")}}).execute()
    rerun = _result_of(steps[1])
    # CPU, seed 0, deterministic=True: bit-identical in every rerun measured (5 of 5), so equal.
    assert rerun == run["metrics"]
    assert _result_of(steps[2]) == yolov11.saved_evaluation(run=run["run"], workspace=ws)["metrics"]
    assert _result_of(steps[3]).endswith(".onnx")
    assert isinstance(_result_of(steps[4]), list)
    assert (base / "nb" / f"workspace-{run['run']}" / "registry.sqlite").is_file()  # its own workspace
    assert [r["id"] for r in ws.runs()] == [run["run"]]  # the original is left alone


def test_notebook_flags_are_checked(finished):
    ws, run, base = finished
    proc = _cli(ws, "notebook", "--run", "no-such-run")
    assert proc.returncode == 2
    assert "no-such-run" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    proc = _cli(ws, "notebook", "--run", run["run"], "--out", str(base / "run.txt"))
    assert proc.returncode == 2
    assert "--out" in proc.stderr
    assert ".ipynb" in proc.stderr
    default = _cli(ws, "notebook", "--run", run["run"])
    assert default.returncode == 0, default.stderr
    assert (ws.runs_dir / run["run"] / f"{run['run']}.ipynb").is_file()
