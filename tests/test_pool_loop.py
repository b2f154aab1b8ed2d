"""The pool's loop in the core (issue 23): pre-labels from the shared trained model, a queue per
strategy (deterministic for a seed), accepted items written as ONE new version whose new label
files hold exactly the accepted boxes, the parent untouched, val unchanged, and a run on it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import yolov11
from yolov11.data.demo import write_demo

from helpers import ROOT


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def loop(trained_run, tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("loop")
    ws = yolov11.Workspace.at(base / "ws")  # its own workspace: the trained fixture's stays read-only
    write_demo(base / "site", n_images=16, size=128, seed=5, val_fraction=0.25)
    dataset = yolov11.import_dataset(base / "site", workspace=ws)["name"]
    write_demo(base / "footage", n_images=12, size=128, seed=9, val_fraction=0.0)
    added = yolov11.pool_add(dataset, [base / "footage" / "images"], workspace=ws)
    assert added["added"] >= 10, added
    labels = yolov11.prelabel(dataset, weights=trained_run["weights"], workspace=ws)
    return {"ws": ws, "dataset": dataset, "added": added, "labels": labels}


def test_prelabel_suggests_for_every_item_with_confidences(loop):
    ws, dataset = loop["ws"], loop["dataset"]
    items = yolov11.pool_items(dataset, workspace=ws)
    assert loop["labels"]["suggested"] == len(items) == loop["added"]["added"]
    assert {i["state"] for i in items} == {"suggested"}
    assert loop["labels"]["boxes"] > 0  # the trained model finds helmets in generated site scenes
    names = set(ws.dataset(dataset)["classes"])
    for item in items:
        assert 0.0 <= item["uncertainty"] <= 1.0
        for s in item["suggestions"]:
            assert s["class"] in names and s["confidence"] >= 0.25 and len(s["box"]) == 4


def test_the_queue_is_deterministic_per_seed_and_differs_between_strategies(loop):
    ws, dataset = loop["ws"], loop["dataset"]
    order = {s: [i["id"] for i in yolov11.pool_queue(dataset, strategy=s, seed=3, workspace=ws)["items"]] for s in
             ("mixed", "uncertainty", "diversity", "random")}
    for strategy, ids in order.items():
        assert ids == [i["id"] for i in yolov11.pool_queue(dataset, strategy=strategy, seed=3, workspace=ws)["items"]], strategy
        assert sorted(ids) == sorted(order["random"])  # every item not reviewed, once
    assert order["random"] != [i["id"] for i in yolov11.pool_queue(dataset, strategy="random", seed=4, workspace=ws)["items"]]
    assert len({tuple(ids) for ids in order.values()}) >= 3
    scores = [i["score"] for i in yolov11.pool_queue(dataset, strategy="uncertainty", workspace=ws)["items"]]
    assert scores == sorted(scores, reverse=True)
    assert len(yolov11.pool_queue(dataset, limit=2, workspace=ws)["items"]) == 2
    with pytest.raises(yolov11.UserError, match="--strategy best: choose one of mixed, uncertainty, diversity, random"):
        yolov11.pool_queue(dataset, strategy="best", workspace=ws)


def test_diversity_measures_distance_in_the_models_own_backbone(loop, trained_run):
    from yolov11.data.pool_features import features

    ws, dataset = loop["ws"], loop["dataset"]
    assert loop["labels"]["embeddings"] == loop["labels"]["suggested"]  # a .pt model: one embedding per item
    queue = yolov11.pool_queue(dataset, strategy="diversity", seed=3, workspace=ws)
    assert queue["features"] == f"backbone of {Path(trained_run['weights']).name}"
    with np.load(ws.root / "pools" / dataset / "embeddings.npz") as saved:
        vectors = {str(i): v for i, v in zip(saved["ids"], saved["vectors"])}
    items = yolov11.pool_items(dataset, workspace=ws)
    assert set(vectors) == {i["id"] for i in items}
    assert all(v.shape == (256,) and abs(np.linalg.norm(v) - 1) < 1e-3 for v in vectors.values())  # yolov11n's layer 10: 256 channels
    first, second = (i["id"] for i in queue["items"][:2])
    assert second == max(vectors, key=lambda i: np.linalg.norm(vectors[i] - vectors[first]))  # k-center in that space
    later = [*items, {"id": "added-since", "file": items[0]["file"]}]  # an item the pre-label did not see
    assert features(ws, dataset, later)[1] == "image descriptor"


def test_accepted_items_become_one_version_with_exactly_their_boxes(loop):
    ws, dataset = loop["ws"], loop["dataset"]
    parent = Path(ws.dataset(dataset)["path"])
    before = _digest(parent)
    first, second, third = [i for i in yolov11.pool_items(dataset, workspace=ws)][:3]
    mine = [{"class": 0, "box": [10.0, 12.0, 40.5, 50.0]}, {"class": 1, "box": [60, 60, 90, 100]}]  # a corrected item
    r = yolov11.pool_accept(dataset, [first["id"], second["id"]], boxes={second["id"]: mine}, workspace=ws)
    assert (r["accepted"], r["parent"], r["version"]) == (2, dataset, f"{dataset}@v2")
    assert _digest(parent) == before  # the parent byte-identical
    new = Path(r["path"])
    for item, boxes in ((first, [{"class": s["class"], "box": s["box"]} for s in first["suggestions"]]), (second, mine)):
        image = new / "images" / "train" / f"pool-{item['id']}{Path(item['file']).suffix}"
        assert image.read_bytes() == Path(item["file"]).read_bytes()
        names = ws.dataset(dataset)["classes"]
        w, h = 128, 128
        expected = []
        for b in boxes:
            (x1, y1, x2, y2), c = b["box"], b["class"] if isinstance(b["class"], int) else names.index(b["class"])
            expected.append([c, (x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h])
        lines = [line.split() for line in (new / "labels" / "train" / f"pool-{item['id']}.txt").read_text().splitlines()]
        assert len(lines) == len(expected)
        for got, want in zip(lines, expected):
            assert int(got[0]) == want[0] and all(abs(float(g) - v) < 1e-6 for g, v in zip(got[1:], want[1:]))
    assert _digest(new / "images" / "val") == _digest(parent / "images" / "val")  # val unchanged: runs stay comparable
    assert _digest(new / "labels" / "val") == _digest(parent / "labels" / "val")
    same = yolov11.same_ground_truth(dataset, r["version"], "val", workspace=ws)  # what the runs comparison reads
    assert same["same"] is True and same["images"] == {dataset: 4, r["version"]: 4}, same
    assert yolov11.same_ground_truth(dataset, r["version"], "train", workspace=ws)["same"] is False
    states = {i["id"]: (i["state"], i["version"]) for i in yolov11.pool_items(dataset, workspace=ws)}
    assert states[first["id"]] == states[second["id"]] == ("accepted", r["version"])
    queued = [i["id"] for i in yolov11.pool_queue(dataset, workspace=ws)["items"]]
    assert first["id"] not in queued and third["id"] in queued
    yolov11.pool_reject(dataset, [third["id"]], workspace=ws)
    assert third["id"] not in [i["id"] for i in yolov11.pool_queue(dataset, workspace=ws)["items"]]
    with pytest.raises(yolov11.UserError, match=f"--items {third['id']}: is rejected already"):
        yolov11.pool_accept(dataset, [third["id"]], workspace=ws)
    with pytest.raises(yolov11.UserError, match="--items nope: not an item of"):
        yolov11.pool_reject(dataset, "nope", workspace=ws)
    run = yolov11.train(r["version"], "yolov11n", epochs=1, imgsz=64, batch=4, workers=0, workspace=ws, plots=False)
    assert run["status"] == "done" and ws.run(run["run"])["dataset"] == r["version"]


def _cli(ws: yolov11.Workspace, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "yolov11", "--workspace", str(ws.root), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_the_cli_queues_and_accepts(loop, tmp_path):
    ws, dataset = loop["ws"], loop["dataset"]

    def cli(*args: str) -> subprocess.CompletedProcess:
        return _cli(ws, *args)

    queued = cli("pool-queue", "--data", dataset, "--strategy", "random", "--seed", "1", "--limit", "2", "--json")
    assert queued.returncode == 0, queued.stderr
    ids = [i["id"] for i in json.loads(queued.stdout)["items"]]
    assert len(ids) == 2
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({ids[0]: [{"class": 0, "box": [1, 1, 20, 20]}]}))
    accepted = cli("pool-accept", "--data", dataset, "--items", ",".join(ids), "--boxes", str(boxes), "--json")
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(accepted.stdout)["accepted"] == 2
    bad = cli("pool-accept", "--data", dataset, "--items", ids[0])
    assert bad.returncode == 2 and f"--items {ids[0]}: is accepted already" in bad.stderr


def test_a_review_waits_in_the_draft_then_becomes_one_version(loop):
    ws, dataset = loop["ws"], loop["dataset"]
    waiting = yolov11.pool_queue(dataset, strategy="random", seed=7, workspace=ws)["items"]
    with_boxes = next(i for i in waiting if i["suggestions"])
    others = [i for i in waiting if i["id"] != with_boxes["id"]]
    yolov11.pool_review(dataset, others[0]["id"], "accept", workspace=ws)  # the suggestions as they are
    x1, y1, x2, y2 = with_boxes["suggestions"][0]["box"]
    moved = [{"class": with_boxes["suggestions"][0]["class"], "box": [x1 + 1.5, y1 + 1.5, x2 - 1.5, y2 - 1.5]}]  # resized: IoU < 0.99

    def free(x: float, y: float) -> bool:  # a 10 px spot no suggestion touches
        return all(x + 10 <= b[0] or b[2] <= x or y + 10 <= b[1] or b[3] <= y for b in (s["box"] for s in with_boxes["suggestions"]))

    x, y = next((x, y) for y in range(0, 118, 4) for x in range(0, 118, 4) if free(x, y))
    drawn = {"class": 0, "box": [float(x), float(y), x + 10.0, y + 10.0]}
    draft = yolov11.pool_review(dataset, with_boxes["id"], "edit", boxes=[*moved, drawn], workspace=ws)
    deleted = len(with_boxes["suggestions"]) - 1
    assert (draft["corrected"], draft["drawn"], draft["deleted"]) == (1, 1, deleted)
    assert draft["accepted"] == len(others[0]["suggestions"])
    yolov11.pool_review(dataset, others[1]["id"], "reject", workspace=ws)
    draft = yolov11.pool_draft(dataset, workspace=ws)
    assert draft["items"] == [others[0]["id"], with_boxes["id"]] or sorted(draft["items"]) == sorted([others[0]["id"], with_boxes["id"]])
    queued = [i["id"] for i in yolov11.pool_queue(dataset, workspace=ws)["items"]]
    assert with_boxes["id"] not in queued and others[0]["id"] not in queued and others[1]["id"] not in queued
    yolov11.pool_review(dataset, others[1]["id"], "skip", workspace=ws)  # Back, then decided otherwise: a rejected item comes back
    assert others[1]["id"] in [i["id"] for i in yolov11.pool_queue(dataset, workspace=ws)["items"]]
    with pytest.raises(yolov11.UserError, match="--decision keep: choose one of accept, edit, reject, skip"):
        yolov11.pool_review(dataset, others[2]["id"], "keep", workspace=ws)
    both = _cli(ws, "pool-accept", "--data", dataset, "--items", others[2]["id"], "--reviewed")
    assert both.returncode == 2 and "--items or --reviewed: give exactly one of them" in both.stderr, both.stderr
    added = _cli(ws, "pool-accept", "--data", dataset, "--reviewed", "--json")  # what the app's "Add the reviewed images" shows
    assert added.returncode == 0, added.stderr
    r = json.loads(added.stdout)
    assert r["accepted"] == 2 and yolov11.pool_draft(dataset, workspace=ws)["items"] == []
    lines = (Path(r["path"]) / "labels" / "train" / f"pool-{with_boxes['id']}.txt").read_text().splitlines()
    assert len(lines) == 2
    with pytest.raises(yolov11.UserError, match="nothing reviewed yet"):
        yolov11.pool_add_reviewed(dataset, workspace=ws)
