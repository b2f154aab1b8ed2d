"""Keeping score of advice (issue 25): a version made while following a run's advice records which
run and kind led to it (edit_labels, pool_accept, tile_dataset: ``advice=``; ``--advice RUN:KIND``);
a run trained on it "as the run" is scored against the advised run with the gain the advice
expected. Val labels changed: both runs are scored on the newer labels (the advised run evaluated on
the new version, beside its own evaluation); the same val: their own evaluations; val images
changed: not comparable. The compare view and the Runs table say so. Tiny trainings (1 epoch at
64 px on the 16-image set): the numbers are whatever they are; the test checks where they come from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import yolov11
from yolov11.__main__ import main as cli_main

SETTINGS = {"epochs": 1, "imgsz": 64, "batch": 8, "workers": 0, "seed": 0, "plots": False}


@pytest.fixture(scope="module")
def advised(tmp_path_factory, tiny_zip) -> dict:
    ws = yolov11.Workspace.at(tmp_path_factory.mktemp("advice-score") / "ws")
    yolov11.import_dataset(tiny_zip, workspace=ws)
    run = yolov11.train("hardhat-tiny", "yolov11n", workspace=ws, **SETTINGS)["run"]
    advice = yolov11.advise(run, workspace=ws)
    kind = advice["actions"][0]["kind"] if advice["actions"] else "fix_labels"
    expected = advice["actions"][0]["expected_gain"] if advice["actions"] else None
    return {"ws": ws, "run": run, "kind": kind, "expected": expected}


def _retrained(ws: yolov11.Workspace, version: str) -> str:
    return yolov11.train(version, "yolov11n", workspace=ws, **SETTINGS)["run"]


def _first(ws: yolov11.Workspace, split: str) -> str:
    return sorted((Path(ws.dataset("hardhat-tiny")["path"]) / "images" / split).iterdir())[0].name


def test_a_val_label_fix_is_scored_on_the_newer_labels(advised):
    ws, run, kind = advised["ws"], advised["run"], advised["kind"]
    image = f"images/val/{_first(ws, 'val')}"
    boxes = yolov11.image_labels("hardhat-tiny", image, workspace=ws)["boxes"]
    version = yolov11.edit_labels("hardhat-tiny", image=image, boxes=boxes[1:], workspace=ws, advice={"run": run, "kind": kind})
    assert ws.dataset(version["name"])["diff"]["advice"] == {"run": run, "kind": kind, "split": "val", "expected_gain": advised["expected"]}
    assert yolov11.dataset_versions("hardhat-tiny", workspace=ws)[-1]["diff"]["advice"]["run"] == run  # the lineage shows it
    retrained = _retrained(ws, version["name"])
    got = yolov11.advice_outcome(retrained, workspace=ws)
    assert got["advised_run"] == run and got["kind"] == kind and got["version"] == version["name"] and got["comparable"]
    assert got["predicted"] == advised["expected"]
    assert "both runs scored on the newer labels of hardhat-tiny@v2" in got["how"]
    on_new = yolov11.saved_evaluation_on(run, version["name"], "val", workspace=ws)  # the advised run, on the fixed labels
    assert on_new["data"] == str(ws.resolve_data(version["name"])) and Path(on_new["dir"]).name.startswith("eval-val-on-")
    assert yolov11.saved_evaluation(run, "val", workspace=ws)["data"] == str(ws.resolve_data("hardhat-tiny"))  # its own, untouched
    mine = yolov11.saved_evaluation(retrained, "val", workspace=ws)["metrics"]["mAP50-95"]
    assert got["measured"] == round(mine - on_new["metrics"]["mAP50-95"], 4)
    assert yolov11.saved_outcome(ws.run(retrained)["dir"]) == got

    from pages.common import AppContext
    from pages.eval_compare import compare
    from pages.runs import runs_table

    ctx = AppContext(workspace=ws, jobs=yolov11.TrainingJobs(ws), blocks=None)
    rows = {row["metric"]: row for row in compare(ctx, run, retrained, "val")[0].to_dict("records")}
    said = rows["advice followed (mAP50-95)"]
    predicted = "not estimated" if got["predicted"] is None else f"predicted {got['predicted']:+.4f}"
    assert said[run] == f"advised {kind}: {predicted}" and said[retrained] == f"on hardhat-tiny@v2: measured {got['measured']:+.4f}"
    assert said["gain (B − A)"] == got["how"]
    listed = runs_table(ctx).set_index("run")["advice followed"]
    assert listed[retrained].startswith(f"{kind} from {run}: predicted") and f"measured {got['measured']:+.3f}" in listed[retrained]
    assert listed[run] == ""  # its own data followed no advice


def test_a_train_label_fix_is_scored_on_the_same_val_and_new_val_images_are_not_comparable(advised, tmp_path):
    ws, run, kind = advised["ws"], advised["run"], advised["kind"]
    image = f"images/train/{_first(ws, 'train')}"
    boxes = yolov11.image_labels("hardhat-tiny", image, workspace=ws)["boxes"]
    version = yolov11.edit_labels("hardhat-tiny", image=image, boxes=boxes[1:], workspace=ws, advice=f"{run}:{kind}")
    got = yolov11.advice_outcome(_retrained(ws, version["name"]), workspace=ws)
    assert got["comparable"] and got["how"] == "both runs scored on the same val images and labels"
    assert got["measured"] == round(got["scores"][got["run"]] - yolov11.saved_evaluation(run, workspace=ws)["metrics"]["mAP50-95"], 4)

    photo = tmp_path / "site.jpg"
    Image.fromarray(np.random.default_rng(5).integers(0, 255, (96, 96, 3), dtype=np.uint8)).save(photo)
    item = yolov11.pool_add("hardhat-tiny", [photo], workspace=ws)["items"][0]["id"]
    into_val = yolov11.pool_accept("hardhat-tiny", [item], split="val", workspace=ws, advice=f"{run}:background")
    apart = yolov11.advice_outcome(_retrained(ws, into_val["version"]), workspace=ws)
    assert not apart["comparable"] and apart["measured"] is None and "differ: the runs are not comparable" in apart["how"]


def test_bad_advice_names_its_flag(advised, monkeypatch, capsys):
    ws, run = advised["ws"], advised["run"]
    with pytest.raises(yolov11.UserError, match="--advice .*: RUN:KIND, the kind one of fix_labels"):
        yolov11.tile_dataset("hardhat-tiny", size=64, workspace=ws, advice=f"{run}:nonsense")
    with pytest.raises(yolov11.UserError, match="--advice nope: no such run in this workspace"):
        yolov11.edit_labels("hardhat-tiny", image=f"images/val/{_first(ws, 'val')}", boxes=[], workspace=ws, advice="nope:fix_labels")
    monkeypatch.setenv("YOLOV11_WORKSPACE", str(ws.root))  # what --workspace does, undone after the test
    assert cli_main(["tile", "--data", "hardhat-tiny", "--size", "64", "--advice", "nope:small_objects"]) == 2
    said = capsys.readouterr().err
    assert "--advice nope: no such run in this workspace" in said and "Traceback" not in said
