"""Dataset versions: a label edit writes ``<name>@v2`` with the exact diff (boxes added, removed and
changed, by image), the parent stays byte-identical, v2 edits into v3, bad input is one line
naming the image and the field and leaves nothing behind, a crash mid-write leaves no half
version, and a run on v2 records v2."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

import yolov11
from yolov11.data.versions import MAX_BOXES, diff_lines

from helpers import ROOT, write_yolo_folder

W, H = 200, 100  # the hand-made images' size


def _hand_made(dest: Path) -> Path:
    """A YOLO folder whose boxes are known: a.jpg (train) with a helmet and a head, b.jpg (val)
    with a vest, c.jpg (train) with a helmet."""
    boxes = {"train/a": [(0, 20, 20, 60, 60), (1, 100, 10, 140, 90)], "val/b": [(2, 50, 30, 90, 70)], "train/c": [(0, 10, 10, 30, 40)]}
    for k, (stem, rows) in enumerate(boxes.items()):
        (dest / "images" / stem).parent.mkdir(parents=True, exist_ok=True)
        (dest / "labels" / stem).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (W, H), (90 + 60 * k, 120, 60)).save(dest / "images" / f"{stem}.jpg")  # unlike each other: no duplicates
        lines = [f"{c} {(x1 + x2) / 2 / W:.6f} {(y1 + y2) / 2 / H:.6f} {(x2 - x1) / W:.6f} {(y2 - y1) / H:.6f}"
                 for c, x1, y1, x2, y2 in rows]
        (dest / "labels" / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    (dest / "data.yaml").write_text(yaml.safe_dump({"names": ["helmet", "head", "vest"], "train": "images/train", "val": "images/val"}))
    return dest


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def ws(tmp_path):
    """A workspace holding dataset "site", imported from the hand-made folder."""
    yolov11.import_dataset(_hand_made(tmp_path / "site"), workspace=tmp_path / "ws")
    return yolov11.Workspace.at(tmp_path / "ws")


def test_an_edit_writes_v2_with_the_exact_diff_and_leaves_v1_byte_identical(ws):
    v1 = ws.datasets_dir / "site"
    before = _hashes(v1)
    a = yolov11.image_labels("site", "images/train/a.jpg", workspace=ws)
    helmet, head = a["boxes"]
    moved = {"class": "head", "box": [head["box"][0] + 4, head["box"][1], head["box"][2] + 4, head["box"][3]]}
    edits = {
        "images/train/a.jpg": [moved, {"class": "vest", "box": [160, 60, 190, 95]}],  # helmet removed, head moved, a vest added
        "b.jpg": [{"class": "helmet", "box": [50, 30, 90, 70]}],  # by file name: the vest becomes a helmet
        "c.jpg": yolov11.image_labels("site", "c.jpg", workspace=ws)["boxes"],  # passed back untouched
    }
    version = yolov11.edit_labels("site", edits, workspace=ws)

    assert version["name"] == "site@v2"
    assert version["parent"] == "site"
    diff = version["diff"]
    assert (diff["added"], diff["removed"], diff["changed"]) == (1, 1, 2)
    assert sorted(diff["images"]) == ["images/train/a.jpg", "images/val/b.jpg"]  # c.jpg: nothing changed
    assert diff["images"]["images/train/a.jpg"] == {
        "added": [{"class": "vest", "box": [160.0, 60.0, 190.0, 95.0]}],
        "removed": [{"class": "helmet", "box": [20.0, 20.0, 60.0, 60.0]}],
        "changed": [{"from": {"class": "head", "box": [100.0, 10.0, 140.0, 90.0]},
                     "to": {"class": "head", "box": [104.0, 10.0, 144.0, 90.0]}}],
    }
    assert diff["images"]["images/val/b.jpg"]["changed"] == [{"from": {"class": "vest", "box": [50.0, 30.0, 90.0, 70.0]},
                                                              "to": {"class": "helmet", "box": [50.0, 30.0, 90.0, 70.0]}}]
    assert _hashes(v1) == before  # every file of v1, data.yaml and report.json included

    v2 = Path(version["path"])
    assert os.stat(v2 / "images/train/a.jpg").st_ino == os.stat(v1 / "images/train/a.jpg").st_ino  # hard-linked, not copied
    assert (v2 / "labels/train/c.txt").read_bytes() == (v1 / "labels/train/c.txt").read_bytes()
    assert yolov11.Workspace.at(ws.root).resolve_data("site@v2") == v2 / "data.yaml"
    report = json.loads((v2 / "report.json").read_text())
    assert report["boxes_per_class"] == {"helmet": 2, "head": 1, "vest": 1}
    assert report["splits"]["val"]["per_class"] == {"helmet": 1, "head": 0, "vest": 0}
    row = ws.dataset("site@v2")
    assert (row["base"], row["version"], row["parent"]) == ("site", 2, "site")
    assert row["diff"] == diff


def test_editing_v2_writes_v3_and_the_versions_list_both(ws):
    yolov11.edit_labels("site", image="b.jpg", boxes=[], workspace=ws)
    v3 = yolov11.edit_labels("site@v2", image="c.jpg", boxes=[{"class": 1, "box": [0, 0, 50, 50]}], workspace=ws)
    assert v3["name"] == "site@v3"
    assert v3["parent"] == "site@v2"
    listed = yolov11.dataset_versions("site@v3", workspace=ws)
    assert ([(v["name"], v["version"], v["parent"]) for v in listed]
            == [("site", 1, None), ("site@v2", 2, "site"), ("site@v3", 3, "site@v2")])
    assert [v["diff"] for v in listed] == [None, {"added": 0, "removed": 1, "changed": 0}, {"added": 0, "removed": 0, "changed": 1}]
    assert [v["boxes"] for v in listed] == [4, 3, 3]
    plain = ws.dataset("site")  # the import, written before any version: version 1 of itself
    assert (plain["base"], plain["version"], plain["parent"]) == ("site", 1, None)


def test_a_suggested_box_opened_in_the_editor_is_added_when_kept(ws):
    """The Data tab's editor handlers, as another tab opens an image with the model's suggestion:
    the suggestion is drawn in its own colour under its class, the editor hands every box back
    in whole pixels of the picture it shows (the component's own conversion), and saving adds
    the suggestion alone."""
    from gradio_image_annotation import image_annotator

    from pages.common import AppContext
    from pages.label_editor import SUGGESTED, open_image, save_version, shown_scale

    ctx = AppContext(workspace=ws, jobs=None, blocks=None)
    suggestion = {"class": "vest", "box": [150.4, 50.2, 190.7, 95.1]}
    _, editor, original, _, _ = open_image(ctx, "site", str(ws.datasets_dir / "site/images/train/a.jpg"), [suggestion])
    drawn = editor["value"]["boxes"]
    assert [b["label"] for b in drawn] == ["helmet", "head", "vest"]
    assert drawn[-1]["color"] == tuple(int(SUGGESTED[i:i + 2], 16) for i in (1, 3, 5))
    handed_back = image_annotator().preprocess_boxes([{k: v for k, v in b.items() if k != "color"} for b in drawn])
    version = save_version(ctx, dataset="site", image="images/train/a.jpg", value={"boxes": handed_back}, original=original)
    change = version["diff"]["images"]["images/train/a.jpg"]
    assert shown_scale(W, H) == 4  # the 200 px image is shown at 800 px: its boxes come back to a quarter pixel
    assert change == {"added": [{"class": "vest", "box": [150.5, 50.25, 190.75, 95.0]}], "removed": [], "changed": []}


BAD = {
    "unknown dataset": (dict(dataset="nope", image="a.jpg", boxes=[]), "--data nope"),
    "unknown image": (dict(image="zz.jpg", boxes=[]), "image zz.jpg"),
    "a path out of the dataset": (dict(image="../../registry.sqlite", boxes=[]),
                                  "image ../../registry.sqlite: not an image of dataset site"),
    "an absolute path elsewhere": (dict(image="/etc/hostname", boxes=[]), "image /etc/hostname: not an image of dataset site"),
    "unknown class": (dict(image="a.jpg", boxes=[{"class": "cat", "box": [1, 1, 9, 9]}]),
                      "images/train/a.jpg: boxes[0] field 'class' 'cat'"),
    "class id out of range": (dict(image="a.jpg", boxes=[{"class": 7, "box": [1, 1, 9, 9]}]),
                              "images/train/a.jpg: boxes[0] field 'class' 7"),
    "outside the image": (dict(image="a.jpg", boxes=[{"class": "head", "box": [150, 10, 210, 50]}]),
                          "images/train/a.jpg: boxes[0] field 'box'"),
    "zero area": (dict(image="a.jpg", boxes=[{"class": "head", "box": [10, 10, 10, 50]}]), "images/train/a.jpg: boxes[0] field 'box'"),
    "not numbers": (dict(image="a.jpg", boxes=[{"class": "head", "box": ["1", 2, 3, 4]}]), "images/train/a.jpg: boxes[0] field 'box'"),
    "three numbers": (dict(image="a.jpg", boxes=[{"class": "head", "box": [1, 2, 3]}]), "images/train/a.jpg: boxes[0] field 'box'"),
    "not a list": (dict(image="a.jpg", boxes="1 0.5 0.5 0.1 0.1"), "images/train/a.jpg: field 'boxes'"),
    "no box key": (dict(image="a.jpg", boxes=[{"class": "head"}]), "images/train/a.jpg: boxes[0]"),
    "a number beyond any float": (dict(image="a.jpg", boxes=[{"class": "head", "box": [10, 10, 10**400, 50]}]),
                                  "images/train/a.jpg: boxes[0] field 'box'"),
    "more boxes than an edit takes": (dict(image="a.jpg", boxes=[{"class": "head", "box": [1, 1, 9, 9]}] * (MAX_BOXES + 1)),
                                      f"images/train/a.jpg: field 'boxes' holds {MAX_BOXES + 1} boxes, more than the {MAX_BOXES}"),
    "nothing changed": (dict(image="c.jpg", boxes=[{"class": "helmet", "box": [10, 10, 30, 40]}]), "nothing to save"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_naming_image_and_field_and_leaves_nothing(ws, case):
    kwargs, start = BAD[case]
    kwargs = {"dataset": "site", **kwargs}
    with pytest.raises(yolov11.UserError) as caught:
        yolov11.edit_labels(kwargs.pop("dataset"), **kwargs, workspace=ws)
    message = str(caught.value)
    assert message.startswith(start), message
    assert "\n" not in message
    assert sorted(p.name for p in ws.datasets_dir.iterdir()) == ["site"]
    assert [d["name"] for d in ws.datasets()] == ["site"]


def test_the_cap_on_boxes_says_why():
    from yolov11.data.versions import parse_boxes

    with pytest.raises(yolov11.UserError) as caught:
        parse_boxes("images/val/a.jpg", [{"class": 0, "box": [1, 1, 2, 2]}] * (MAX_BOXES + 1), ["x"], (10, 10))
    assert "a bound on what a save costs" in str(caught.value)


def _greedy_by_argmax(old: np.ndarray, new: np.ndarray) -> list[tuple[int, int]]:
    """The pairing diff_lines promises, spelt out the slow way: the whole IoU matrix, the best pair
    taken again and again (np.argmax: ties to the lowest old, then new, index)."""
    iou = yolov11.boxes.box_iou(old, new) if len(old) and len(new) else np.zeros((len(old), len(new)))
    pairs = []
    while iou.size and iou.max() > 0.1:
        i, j = np.unravel_index(int(iou.argmax()), iou.shape)
        pairs.append((int(i), int(j)))
        iou[i, :], iou[:, j] = -1, -1
    return pairs


def _boxes(rng: np.random.Generator, n: int, width: float, height: float, side: tuple[float, float]) -> np.ndarray:
    wh = rng.uniform(*side, (n, 2))
    xy = rng.uniform(0, 1, (n, 2)) * (np.array([width, height]) - wh)
    return np.hstack([xy, xy + wh])


def test_boxes_are_paired_as_the_greedy_over_every_pair_pairs_them():
    from yolov11.data.versions import _changed_pairs

    rng = np.random.default_rng(0)
    for case in range(60):
        old = _boxes(rng, int(rng.integers(0, 30)), 200, 100, (3, 80))
        new = np.vstack([old[rng.random(len(old)) < 0.5] + rng.normal(0, 3, (1, 4)),
                         _boxes(rng, int(rng.integers(0, 10)), 200, 100, (3, 80))])
        if case % 4 == 0 and len(old):  # exact ties: copies of one box
            new = np.vstack([new, old[:1], old[:1]])
        assert sorted(_changed_pairs(old, new)) == sorted(_greedy_by_argmax(old, new)), case


def test_the_diff_of_many_boxes_against_the_same_boxes_moved_compares_only_neighbours():
    """2,000 boxes of an image (one in each cell of a 50 x 40 grid), all moved 3 px right: each is
    one box changed, and finding that compares each box with a few neighbours, not with all
    2,000 (the IoU matrix of every box by every box took 34 s and 1 GB at 3,000 boxes)."""
    from yolov11.data.versions import _neighbours

    rng = np.random.default_rng(1)
    size, cols, rows = (2000, 1200), 50, 40
    cells = np.array([(x * 40, y * 30) for y in range(rows) for x in range(cols)], float)
    corner = cells + rng.uniform(0, 8, (len(cells), 2))
    old = np.hstack([corner, corner + rng.uniform(12, 26, (len(cells), 2))])
    moved = old + [3, 0, 3, 0]
    line = lambda b: "0 %.6f %.6f %.6f %.6f" % ((b[0] + b[2]) / 2 / size[0], (b[1] + b[3]) / 2 / size[1],  # noqa: E731
                                                (b[2] - b[0]) / size[0], (b[3] - b[1]) / size[1])
    diff = diff_lines([line(b) for b in old], [line(b) for b in moved], ["box"], size)
    assert (len(diff["added"]), len(diff["removed"]), len(diff["changed"])) == (0, 0, MAX_BOXES)
    for change in diff["changed"]:
        assert [round(t - f, 1) for f, t in zip(change["from"]["box"], change["to"]["box"])] == [3.0, 0.0, 3.0, 0.0]
    compared = [len(near) for near in _neighbours(old, moved)]
    assert max(compared) <= 9 and sum(compared) < 5 * MAX_BOXES, (max(compared), sum(compared))  # its cell and the ones around


def test_two_processes_saving_versions_at_once_both_land(tmp_path):
    """Two processes (the app and a notebook) save an edit of one dataset at the same instant: both
    pick v2, one renames its folder into place first, the other builds again as v3. The dataset
    has 200 images, so that building a version (linking them, its report) outlasts the moment
    between the two starts."""
    ws = yolov11.Workspace.at(tmp_path / "ws")
    yolov11.import_dataset(write_yolo_folder(tmp_path / "site", n_images=200, size=32), workspace=ws)
    root = ws.datasets_dir / "site"
    images = tuple([p.name for p in sorted((root / "images" / "val").iterdir())
                    if yolov11.image_labels("site", p.name, workspace=ws)["boxes"]][:2])
    go = ws.root / "go"
    script = ("import sys, time, pathlib, yolov11\n"
              "ws, image, go = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])\n"
              "yolov11.Workspace.at(ws)\n"
              "go.with_name('ready-' + image).touch()\n"
              "while not go.exists(): time.sleep(0.001)\n"
              "print(yolov11.edit_labels('site', image=image, boxes=[], workspace=ws)['name'])\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(ws.root), image, str(go)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for image in images]
    deadline = time.time() + 120
    while not all((ws.root / f"ready-{image}").exists() for image in images) and time.time() < deadline:
        time.sleep(0.01)
    go.touch()  # both start saving now
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-1500:] for _, err in outs]
    assert sorted(out.strip() for out, _ in outs) == ["site@v2", "site@v3"]
    edited = {name: list(ws.dataset(name)["diff"]["images"]) for name in ("site@v2", "site@v3")}
    # each edit in one version
    assert sorted(image for images_ in edited.values() for image in images_) == [f"images/val/{image}" for image in images]
    assert sorted(p.name for p in ws.datasets_dir.iterdir()) == ["site", "site@v2", "site@v3"]  # no scratch left


def test_a_crash_while_writing_leaves_no_half_version_and_reconcile_cleans_it(ws):
    """The process dies (os._exit, as a kill would) once the version's files are in its scratch
    folder, before the rename: no version appears, and the next start removes the scratch."""
    crash = ("import os, sys, yolov11\n"
             "import yolov11.data.version_folder as vf\n"
             "vf.version_report = lambda *a: os._exit(9)\n"  # the point of death: files written, report not yet
             "yolov11.edit_labels('site', image='b.jpg', boxes=[], workspace=sys.argv[1])\n")
    done = subprocess.run([sys.executable, "-c", crash, str(ws.root)], cwd=ROOT, capture_output=True, timeout=120)
    assert done.returncode == 9, done.stderr.decode()[-2000:]
    assert len(list(ws.datasets_dir.glob(".version-*"))) == 1
    assert ws.dataset("site@v2") is None
    cleaned = ws.reconcile()
    assert len(cleaned["scratch_removed"]) == 1
    assert sorted(p.name for p in ws.datasets_dir.iterdir()) == ["site"]


def test_a_version_renamed_into_place_but_not_registered_is_registered_with_its_lineage(ws):
    """A crash between the rename and the registry row (the row deleted here, as it never came):
    the next start registers the folder from its report.json, parent and diff included."""
    import sqlite3

    version = yolov11.edit_labels("site", image="b.jpg", boxes=[], workspace=ws)
    with sqlite3.connect(ws.root / "registry.sqlite") as db:
        db.execute("DELETE FROM datasets WHERE name='site@v2'")
    assert ws.dataset("site@v2") is None
    assert ws.reconcile()["datasets_registered"] == ["site@v2"]
    row = ws.dataset("site@v2")
    assert (row["base"], row["version"], row["parent"]) == ("site", 2, "site")
    assert row["diff"] == version["diff"]


def test_a_run_on_v2_records_v2_and_retrain_on_v3_reuses_all_its_settings(tmp_path):
    yolov11.import_dataset(write_yolo_folder(tmp_path / "hardhat-tiny"), workspace=tmp_path / "ws")
    ws = yolov11.Workspace.at(tmp_path / "ws")
    image = sorted(p.name for p in (ws.datasets_dir / "hardhat-tiny/images/val").iterdir())[0]
    boxes = yolov11.image_labels("hardhat-tiny", image, workspace=ws)["boxes"]
    version = yolov11.edit_labels("hardhat-tiny", image=image, boxes=boxes[1:], workspace=ws)
    result = yolov11.train(version["name"], "yolov11n", epochs=1, imgsz=64, batch=4, workers=0, workspace=ws, plots=False)
    assert result["status"] == "done"
    assert ws.run(result["run"])["dataset"] == "hardhat-tiny@v2"
    assert json.loads((Path(result["dir"]) / "run.json").read_text())["dataset"] == "hardhat-tiny@v2"

    # A second run on v2 from the first one's weights, with settings away from their defaults (an
    # extra Ultralytics argument too): "as the run" means every one of them.
    tuned = yolov11.train(version["name"], "yolov11n", epochs=1, imgsz=64, batch=4, workers=0, workspace=ws, plots=False,
                          weights=result["weights"], seed=3, deterministic=False, mosaic=0.5, flipud=0.1)
    assert tuned["status"] == "done"
    recorded = ws.run(tuned["run"])["settings"]
    assert (recorded["pretrained"], recorded["seed"], recorded["deterministic"], recorded["flipud"]) == (result["weights"], 3, False, 0.1)

    # "Retrain on this version" (the Data tab's handler, as the page calls it): v3's parent is v2,
    # so the newest run on it is the one whose settings it takes.
    from pages.common import AppContext
    from pages.data import retrain_on_version

    v3 = yolov11.edit_labels(version["name"], image=image, boxes=boxes[2:], workspace=ws)
    ctx = AppContext(workspace=ws, jobs=yolov11.TrainingJobs(ws), blocks=None)
    message, started = retrain_on_version(ctx, v3["name"])
    assert f"settings of run {tuned['run']}" in message
    deadline = time.time() + 120
    while ws.run(started)["status"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.5)
    again = ws.run(started)
    assert again["status"] == "done"
    assert again["dataset"] == "hardhat-tiny@v3"
    assert again["settings"] == recorded  # starting weights, seed, deterministic, the extra argument: all but the dataset

    # "Start from": the run's trained weights (fine-tune: its best.pt), or scratch (no starting weights).
    from pages.data import FINE_TUNE, SCRATCH

    tuned_more, fine = retrain_on_version(ctx, v3["name"], tuned["run"], FINE_TUNE)
    _, fresh = retrain_on_version(ctx, v3["name"], tuned["run"], SCRATCH)
    assert "from its trained weights" in tuned_more
    assert ws.run(fine)["settings"]["pretrained"] == str(ws.run_weights(tuned["run"]))
    assert "pretrained" not in ws.run(fresh)["settings"]
    assert {k: v for k, v in ws.run(fresh)["settings"].items()} == {k: v for k, v in recorded.items() if k != "pretrained"}
    jobs_done = time.time() + 120
    while any(ws.run(r)["status"] in ("queued", "running") for r in (fine, fresh)) and time.time() < jobs_done:
        time.sleep(0.5)
    assert ws.run(fine)["status"] == ws.run(fresh)["status"] == "done"


def test_a_version_keeps_what_the_import_said_about_its_source(tmp_path):
    """A version's report recomputes what its labels change (counts, class warnings) and keeps
    what the import found in the source: here the unlabelled image left out (a warning) and the
    EXIF-turned photo (a note)."""
    src = _hand_made(tmp_path / "site")
    Image.new("RGB", (W, H), (10, 200, 30)).save(src / "images" / "train" / "d.jpg")  # no .txt: a background, counted
    turned = Image.new("RGB", (W, H), (200, 10, 90))
    exif = turned.getexif()
    exif[0x0112] = 6  # a quarter turn
    turned.save(src / "images" / "val" / "e.jpg", exif=exif)
    (src / "labels" / "val" / "e.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    ws = yolov11.Workspace.at(tmp_path / "ws")
    v1 = yolov11.import_dataset(src, workspace=ws)
    assert v1["source_warnings"] and v1["notes"]  # what this test is about exists in the parent
    a = yolov11.image_labels("site", "images/train/a.jpg", workspace=ws)
    v2 = yolov11.edit_labels("site", {"images/train/a.jpg": a["boxes"][:1]}, workspace=ws)
    report = json.loads((Path(v2["path"]) / "report.json").read_text())
    assert report["boxes"] == v1["boxes"] - 1
    assert all(w in report["warnings"] for w in v1["source_warnings"]), report["warnings"]
    assert report["notes"] == v1["notes"]
