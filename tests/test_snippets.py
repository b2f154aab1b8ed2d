"""Every "Same in Python / Same in a shell" snippet the tabs show runs as printed.

A real app on a fresh workspace does each step once through its API (import, train with a
non-default "more settings" field, evaluate a run and uploaded weights, export, predict,
publish, and the pool's add, pre-label, queue, accept and reject); each Python snippet then runs
in a subprocess, and each shell snippet is parsed by the CLI's own parser and run, against the
same workspace. An accept, a reject or the review's add is run on the workspace as it was when the
app showed it (a copy taken just before; once accepted, an item is not accepted again).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

import yolov11
from yolov11.cli.parser import build_parser

from helpers import ROOT, serving
from video_fixtures import clip_frames, write_clip


def blocks(markdown: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)\n```", markdown, flags=re.S)


def wait_done(client: Client, run: str, timeout: float = 300) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = client.predict(run, api_name="/training_status")
        if status["status"] in ("done", "failed", "stopped"):
            return status
        time.sleep(0.5)
    raise AssertionError(f"run {run} did not end: {status}")


@pytest.fixture(scope="module")
def shown(tmp_path_factory, tiny_zip):
    """{step: the snippet markdown the app showed}, the workspace, a folder holding the files the
    snippets name by file name (the uploaded zip, weights and photos, as their user has them) and
    a copy of the workspace as it was before the pool's accept."""
    base = tmp_path_factory.mktemp("snippets")
    ws = yolov11.Workspace.at(base / "ws")
    here = base / "cwd"
    here.mkdir()
    shutil.copy(tiny_zip, here / tiny_zip.name)
    out = {}
    with serving(ws) as url:
        client = Client(url, verbose=False)
        *_, out["import"], _ = client.predict(handle_file(str(tiny_zip)), "", 0.25, False, api_name="/import_dataset")
        run, out["train"], _ = client.predict("hardhat-tiny", "yolov11n", 1, 64, 8, "cpu", None, close_mosaic=1, api_name="/start_training")
        assert wait_done(client, run)["status"] == "done"
        out["evaluate"] = client.predict(run, "val", api_name="/evaluate")[2]
        best = ws.run_weights(run)
        shutil.copy(best, here / best.name)
        out["advise"] = client.predict(run, "val", api_name="/advise")[3]
        out["evaluate weights"] = client.predict(None, "val", handle_file(str(best)), "hardhat-tiny", api_name="/evaluate")[2]
        out["export"] = client.predict(run, "onnx", True, False, "batch only", api_name="/export_model")[2]
        image = next((ws.datasets_dir / "hardhat-tiny" / "images" / "val").glob("*.jpg"))
        shutil.copy(image, here / image.name)
        out["predict"] = client.predict(run, handle_file(str(here / image.name)), 0.05, api_name="/predict")[2]
        shutil.copy(image, here / f"big-{image.name}")  # another upload: the first one's kept copy stays where its snippet names it
        photo = handle_file(str(here / f"big-{image.name}"))
        out["predict sliced"] = client.predict(run, photo, 0.05, None, None, False, "on", api_name="/predict")[2]
        clip = write_clip(here / "site.mp4", clip_frames(seconds=1))
        out["predict video sliced"] = client.predict(run, handle_file(str(clip)), 0.25, None, False, "on", api_name="/predict_video")[3]
        out["publish"] = client.predict(run, None, "site-a", api_name="/publish_model")
        out["tile"] = client.predict("hardhat-tiny", 64, 0.2, api_name="/tile_dataset")[3]
        photos = [here / f"site{k}.jpg" for k in range(3)]
        for k, photo in enumerate(photos):
            Image.fromarray(np.random.default_rng(80 + k).integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(photo)
        *_, out["pool add"] = client.predict("hardhat-tiny", [handle_file(str(p)) for p in photos], 1.0, api_name="/pool_add")
        *_, out["prelabel"] = client.predict("hardhat-tiny", run, 0.25, api_name="/prelabel")
        queue, out["pool queue"] = client.predict("hardhat-tiny", "random", 3, 0, api_name="/pool_queue")
        first, second, third = (row[0] for row in queue["data"])
        before = {step: base / f"before-{k}" for k, step in enumerate(["pool accept", "pool reject", "pool add reviewed"])}
        shutil.copytree(ws.root, before["pool accept"])
        out["pool accept"] = client.predict("hardhat-tiny", first, api_name="/pool_accept")[2]
        shutil.copytree(ws.root, before["pool reject"])
        out["pool reject"] = client.predict("hardhat-tiny", second, api_name="/pool_reject")[2]
    # The review's "Add the reviewed images" is a private event of the page: its handler, called as the page calls it
    from pages.common import AppContext
    from pages.label_review import add_reviewed

    yolov11.pool_review("hardhat-tiny", third, "accept", workspace=ws)
    shutil.copytree(ws.root, before["pool add reviewed"])
    out["pool add reviewed"] = add_reviewed(AppContext(workspace=ws, jobs=yolov11.TrainingJobs(ws), blocks=None), "hardhat-tiny")[2]
    yield out, ws, here, before


def as_shown(ws: yolov11.Workspace, before: dict[str, Path], step: str) -> None:
    """The workspace as it was when the app showed ``step``'s snippet, for the pool's one-time steps."""
    if step in before:
        shutil.rmtree(ws.root)
        shutil.copytree(before[step], ws.root)


STEPS = ["import", "train", "evaluate", "advise", "evaluate weights", "export", "predict", "predict sliced", "predict video sliced",
         "publish", "tile", "pool add", "prelabel", "pool queue", "pool accept", "pool reject", "pool add reviewed"]


def test_each_step_shows_both_snippets_with_python_literals(shown):
    snippets, ws, _, _ = shown
    for step in STEPS:
        assert len(blocks(snippets[step], "python")) == 1, (step, snippets[step])
        assert blocks(snippets[step], "bash"), (step, snippets[step])
        python = blocks(snippets[step], "python")[0]
        assert "true" not in re.sub(r"'[^']*'", "", python), python  # JSON's true/false/null are not Python
        assert "null" not in python, python
        assert f"workspace={str(ws.root)!r}" in python
    assert "close_mosaic=1" in blocks(snippets["train"], "python")[0]
    assert "--close-mosaic 1" in blocks(snippets["train"], "bash")[0]  # the flag the CLI has, not --close_mosaic
    assert "simplify=True" in blocks(snippets["export"], "python")[0]
    assert "sliced=True" in blocks(snippets["predict sliced"], "python")[0]
    assert "--slice on" in blocks(snippets["predict sliced"], "bash")[0]
    assert "yolov11.advise(" in blocks(snippets["advise"], "python")[0] and "advise --run" in blocks(snippets["advise"], "bash")[0]
    assert "predict_video(" in blocks(snippets["predict video sliced"], "python")[0]
    assert "sliced=True" in blocks(snippets["predict video sliced"], "python")[0]
    assert "--slice on" in blocks(snippets["predict video sliced"], "bash")[0]


def test_every_shell_snippet_parses_with_the_cli_parser(shown):
    snippets, _, _, _ = shown
    parser = build_parser()
    for step in STEPS:
        for command in blocks(snippets[step], "bash"):
            words = shlex.split(command)
            assert words[:3] == ["python", "-m", "yolov11"], command
            args = parser.parse_args(words[3:])  # argparse exits (SystemExit 2) on a flag it does not know
            assert args.func is not None
    train = parser.parse_args(shlex.split(blocks(snippets["train"], "bash")[0])[3:])
    assert train.close_mosaic == 1
    assert train.epochs == 1
    assert train.imgsz == 64


def _env(cache: Path | None = None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    if cache is not None:  # a user's shell: no workspace variable, nor the config dir this process was given
        env = {k: v for k, v in env.items() if k not in ("YOLOV11_WORKSPACE", "YOLO_CONFIG_DIR")} | {"XDG_CACHE_HOME": str(cache)}
    return env


@pytest.mark.parametrize("step", STEPS)
def test_python_snippet_runs(shown, step, tmp_path):
    snippets, ws, here, before = shown
    as_shown(ws, before, step)
    code = blocks(snippets[step], "python")[0]
    proc = subprocess.run([sys.executable, "-c", code], cwd=here, env=_env(tmp_path / "cache"), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{code}\n{proc.stderr[-3000:]}"
    assert not (here / "workspace").exists()  # the snippet names its workspace: nothing lands in the current folder


@pytest.mark.parametrize("step", STEPS)
def test_shell_snippet_runs(shown, step):
    snippets, ws, here, before = shown
    as_shown(ws, before, step)
    for command in blocks(snippets[step], "bash"):
        words = shlex.split(command)
        proc = subprocess.run([sys.executable, *words[1:]], cwd=here, env=_env(), capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{command}\n{proc.stderr[-3000:]}"
        assert "error:" not in proc.stderr, proc.stderr
