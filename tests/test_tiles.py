"""Tiled training data (issue 24): ``tile`` writes a version whose boxes, mapped back to the frame,
are the parent's (to the label files' precision) apart from those cut at a tile edge, which it
counts; empty tiles are kept at the stated ratio; the parent stays; bad values get one line naming
the flag; a run trains on it; the CLI says the same. A run on tiles compared with a run on the
frames: both scored on the frames, tile by tile and in one pass, by one COCO evaluator."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from PIL import Image

import yolov11
from yolov11.data.tiles import tiles_written

from helpers import ROOT, write_yard_frames

W, H = 640, 384


def _boxes(label: Path, width: float, height: float, dx: float = 0, dy: float = 0) -> list[tuple]:
    """(class, x1, y1, x2, y2) in frame pixels of a label file of an image ``width`` x ``height`` at (dx, dy)."""
    out = []
    for line in label.read_text().split("\n"):
        if line.strip():
            c, cx, cy, w, h = line.split()
            cx, cy, w, h = float(cx) * width, float(cy) * height, float(w) * width, float(h) * height
            out.append((int(c), dx + cx - w / 2, dy + cy - h / 2, dx + cx + w / 2, dy + cy + h / 2))
    return out


def _digest(folder: Path) -> dict[str, str]:
    """{file: SHA-1} under ``folder``, Ultralytics' label caches (written by a training) left out."""
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix != ".cache"}


@pytest.fixture(scope="module")
def tiled(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("tiles")
    ws = yolov11.Workspace.at(base / "ws")
    write_yard_frames(base / "yard", {"train": 4, "val": 2}, {"train": 22, "val": 21}, top=30, step=70)
    name = yolov11.import_dataset(base / "yard", workspace=ws)["name"]
    before = _digest(ws.datasets_dir / name)
    r = yolov11.tile_dataset(name, size=256, overlap=0.5, empty_ratio=0.5, workspace=ws)
    return {"ws": ws, "name": name, "r": r, "before": before}


def test_tiles_map_back_to_the_parents_boxes_and_say_what_was_cut(tiled):
    ws, name, r = tiled["ws"], tiled["name"], tiled["r"]
    parent, version = ws.datasets_dir / name, Path(r["path"])
    assert (r["name"], r["lineage"]) == (f"{name}@v2", "tiles 256, overlap 0.5")
    assert _digest(parent) == tiled["before"]  # the parent untouched
    assert ws.dataset(r["name"])["diff"]["tiles"]["size"] == 256
    assert yolov11.dataset_versions(name, workspace=ws)[-1]["diff"]["tiles"]["tiles"] == r["tiles"]
    clipped = dropped_candidates = 0
    frames = []
    for split in ("train", "val"):
        for frame in sorted((parent / "images" / split).iterdir()):
            truth = _boxes(parent / "labels" / split / f"{frame.stem}.txt", W, H)
            frames.append((W, H, np.array(truth, float).reshape(-1, 5)))
            tiles = sorted((version / "images" / split).glob(f"{frame.stem}__x*"))
            assert tiles and not (version / "images" / split / frame.name).exists()  # the frame is replaced by its tiles
            back = []
            for tile in tiles:
                x0, y0 = (int(v) for v in tile.stem.split("__x")[1].split("_y"))
                with Image.open(tile) as im:
                    assert im.size == (256, 256)  # 640x384 at 256 px: every tile full size, the last ones shifted back inside
                    with Image.open(frame) as whole:
                        assert np.array_equal(np.asarray(im), np.asarray(whole.crop((x0, y0, x0 + 256, y0 + 256))))
                back += _boxes(version / "labels" / split / f"{tile.stem}.txt", 256, 256, x0, y0)
            for c, *box in truth:  # each box whole in some tile (none is over the 128 px overlap)
                assert any(b[0] == c and np.allclose(b[1:], box, atol=0.01) for b in back), (frame.name, box)
            for c, *box in back:  # every tile box is a parent box, or one cut at the tile's edge
                whole = any(t[0] == c and np.allclose(t[1:], box, atol=0.01) for t in truth)
                inside = any(t[0] == c and t[1] - 0.01 <= box[0] and t[2] - 0.01 <= box[1] and box[2] <= t[3] + 0.01
                             and box[3] <= t[4] + 0.01 for t in truth)
                assert whole or inside, (frame.name, box)
                clipped += int(not whole)
            dropped_candidates += len(truth)
    assert clipped == r["clipped"] > 0
    assert tiles_written(frames, 256, 0.5, empty_ratio=0.5) == r["tiles"]  # what the small-objects advice counts on
    report = json.loads((version / "report.json").read_text())
    assert report["box_pixels"]["640"]["boxes"] == r["boxes"]  # a version's report has box sizes too (its images' headers read)
    parent_report = json.loads((parent / "report.json").read_text())
    helmet = report["box_pixels"]["640"]["per_class"]["helmet"]["median"]  # a 256 px tile shown at 640: 2.5x a frame's 640/640 size
    assert helmet == pytest.approx(2.5 * parent_report["box_pixels"]["640"]["per_class"]["helmet"]["median"], rel=0.15)
    assert r["boxes"] == sum(len(p.read_text().splitlines()) for p in (version / "labels").rglob("*.txt"))
    empty = [p for p in (version / "labels").rglob("*.txt") if not p.read_text().strip()]
    assert len(empty) == r["empty_kept"] == min(round(0.5 * (r["tiles"] - r["empty_kept"])), len(empty))


def test_bad_values_name_their_flag_and_a_run_trains_on_the_tiles(tiled, tmp_path):
    ws, name = tiled["ws"], tiled["name"]
    for keywords, said in (({"size": 0}, "--size 0: a tile side in pixels, 1 to 4096"), ({"overlap": 0.95}, "--overlap 0.95"),
                           ({"min_visible": 0}, "--min-visible 0"), ({"size": 8}, r"--size 8: a 640x384 image makes \d+ tiles")):
        with pytest.raises(yolov11.UserError, match=said):
            yolov11.tile_dataset(name, workspace=ws, **keywords)
    assert [d["name"] for d in ws.datasets()].count(f"{name}@v3") == 0  # nothing written by a refusal
    run = yolov11.train(tiled["r"]["name"], "yolov11n", epochs=1, imgsz=64, batch=4, workers=0, workspace=ws, plots=False)
    assert run["status"] == "done" and ws.run(run["run"])["dataset"] == tiled["r"]["name"]

    # The run's notebook replays the tiling (tile_dataset with its recorded settings): the same tiles, byte for byte
    nb = nbformat.read(yolov11.write_notebook(run["run"], out=tmp_path / "nb" / "run.ipynb", workspace=ws), as_version=4)
    assert any("tile_dataset(" in c.source and "size=256" in c.source for c in nb.cells)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("YOLOV11_WORKSPACE", raising=False)
        mp.delenv("YOLO_CONFIG_DIR", raising=False)
        mp.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path / "nb")}}).execute()
    rebuilt = yolov11.Workspace.at(tmp_path / "nb" / f"workspace-{run['run']}")
    assert _digest(Path(rebuilt.dataset(tiled["r"]["name"])["path"]) / "labels") == _digest(Path(tiled["r"]["path"]) / "labels")
    assert _digest(Path(rebuilt.dataset(tiled["r"]["name"])["path"]) / "images") == _digest(Path(tiled["r"]["path"]) / "images")
    done = subprocess.run([sys.executable, "-m", "yolov11", "--workspace", str(ws.root), "tile", "--data", name, "--size", "320",
                           "--overlap", "0.2", "--json"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["name"] == f"{name}@v3" and out["lineage"] == "tiles 320, overlap 0.2" and out["images"] == 6


def test_a_tiled_run_and_a_run_on_the_frames_compare_on_the_full_frames(tiled):
    from pages.common import AppContext
    from pages.eval_compare import compare

    ws, name = tiled["ws"], tiled["name"]
    runs = {data: yolov11.train(data, "yolov11n", epochs=1, imgsz=64, batch=4, workers=0, workspace=ws, plots=False)["run"]
            for data in (name, tiled["r"]["name"])}
    frames, tiles = runs[name], runs[tiled["r"]["name"]]
    own = yolov11.evaluate(run=tiles, workspace=ws)  # the tiled run's own val: tiles
    got = yolov11.tiled_comparison(frames, tiles, "val", workspace=ws)
    assert got["data"] == name and got["same"]["same"] is True and got["evaluator"] == "faster-coco-eval"
    assert all(s["size"] == 256 and s["overlap"] == 0.5 for s in got["slicing"].values())  # both sliced as the tiles were cut
    for run in (frames, tiles):
        r = got["results"][run]
        assert r["images"] == 2 and r["data"] == str(ws.resolve_data(name)) and r["evaluator"] == "faster-coco-eval"
        assert set(r["metrics"]) == {"mAP50", "mAP50-95", "small mAP50-95"} and "metrics" in r["unsliced"]
    assert Path(got["results"][tiles]["dir"]).name.startswith("eval-val-on-")  # not over the run's own evaluation
    assert yolov11.saved_evaluation(tiles, "val", workspace=ws)["metrics"] == own["metrics"]
    kept = Path(got["results"][tiles]["dir"]) / "metrics.json"
    stamp = kept.stat().st_mtime_ns
    assert yolov11.tiled_comparison(frames, tiles, "val", workspace=ws)["results"] == got["results"] and kept.stat().st_mtime_ns == stamp
    assert yolov11.tiled_comparison(frames, frames, "val", workspace=ws) is None  # no tiles: nothing to add

    ctx = AppContext(workspace=ws, jobs=yolov11.TrainingJobs(ws), blocks=None)
    table, _ = compare(ctx, frames, tiles, "val")
    rows = {row["metric"]: row for row in table.to_dict("records")}
    said = rows["tiled run: compared on"]
    assert said[frames] == said[tiles] == f"full val frames of {name}, tiles of 256 px, overlap 0.5"
    assert said["gain (B − A)"] == "both scored by faster-coco-eval (COCO): B − A is the gain"
    for key in ("full frames, tile by tile: mAP50", "full frames, one pass: mAP50-95"):
        a, b = rows[key][frames], rows[key][tiles]
        assert isinstance(a, float) and rows[key]["gain (B − A)"] == round(b - a, 4)

    # Tiles made while following the frames run's advice: the retrained run is scored tile by tile against one pass
    advised = yolov11.tile_dataset(name, size=256, overlap=0.5, empty_ratio=0.5, workspace=ws, advice=f"{frames}:small_objects")
    retrained = yolov11.train(advised["name"], "yolov11n", epochs=1, imgsz=64, batch=4, workers=0, workspace=ws, plots=False)["run"]
    outcome = yolov11.advice_outcome(retrained, workspace=ws)
    assert outcome["kind"] == "small_objects" and outcome["comparable"] and "tile by tile" in outcome["how"]
    again = yolov11.tiled_comparison(frames, retrained, "val", workspace=ws)["results"]
    assert outcome["measured"] == round(again[retrained]["metrics"]["mAP50-95"] - again[frames]["unsliced"]["metrics"]["mAP50-95"], 4)
