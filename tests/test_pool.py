"""A dataset's unlabeled pool (issue 23's first part): photos and sampled video frames added once,
static stretches and near copies skipped, hostile inputs refused in one line with nothing left
behind. Everything is generated here: a 20-second clip, a tiny dataset, a few photos."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import yolov11

from helpers import ROOT, write_yolo_folder
from video_fixtures import _background, huge_gray_jpeg, write_clip, write_growing_frames

STATIC_S, SCENES = 10, 10  # the clip: 10 s of one unchanging view, then 10 one-second scenes


def scene(seed: int) -> np.ndarray:
    return np.asarray(_background(np.random.default_rng(seed), 160, 128))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("pool")
    ws = yolov11.Workspace.at(base / "ws")
    dataset = yolov11.import_dataset(write_yolo_folder(base / "hardhat-tiny"), workspace=ws)["name"]
    frames = [scene(1)] * (STATIC_S * 10) + [scene(100 + i // 10) for i in range(SCENES * 10)]
    clip = write_clip(base / "cam3.mp4", frames, fps=10)
    return {"ws": ws, "dataset": dataset, "clip": clip, "base": base, "source": base / "hardhat-tiny"}


def test_a_clip_is_sampled_once_a_second_and_its_static_stretch_collapses(site):
    ws, dataset = site["ws"], site["dataset"]
    first = yolov11.pool_add(dataset, [site["clip"]], workspace=ws)
    # one frame a second: the static first 10 s are near copies of their first frame, the 10 scenes all differ
    assert first["added"] == 1 + SCENES, first
    assert first["skipped"] == STATIC_S - 1
    assert [i["at_s"] for i in first["items"]] == [0.0, *[float(s) for s in range(STATIC_S, STATIC_S + SCENES)]]
    assert first["items"][1]["source"] == "cam3.mp4 at 10.0 s"
    for item in first["items"]:
        assert Path(item["file"]).parent == ws.root / "pools" / dataset / "items" and Path(item["file"]).is_file()
    again = yolov11.pool_add(dataset, [site["clip"]], workspace=ws)
    assert (again["added"], again["skipped"]) == (0, STATIC_S + SCENES)
    assert "11 already in the pool (the same bytes)" in again["notes"]
    listed = yolov11.pool_items(dataset, workspace=ws)
    assert [i["id"] for i in listed] == [i["id"] for i in first["items"]]
    assert {i["state"] for i in listed} == {"new"} and yolov11.pool_items(dataset, state="suggested", workspace=ws) == []


def test_photos_and_zips_with_the_datasets_own_images_and_hostile_members(site, tmp_path):
    ws, dataset = site["ws"], site["dataset"]
    photos = tmp_path / "photos"
    photos.mkdir()
    for k in range(3):
        Image.fromarray(scene(500 + k)).save(photos / f"new{k}.jpg", quality=90)
    (photos / "bomb.jpg").write_bytes(huge_gray_jpeg(12000))  # 144 Mpx: over the import's pixel cap
    (photos / "notes.txt").write_text("not a picture")
    shipped = tmp_path / "phone.zip"
    with zipfile.ZipFile(shipped, "w") as zf:
        for p in sorted((site["source"] / "images" / "train").iterdir())[:4]:  # images the dataset already has
            zf.write(p, f"dcim/{p.name}")
    r = yolov11.pool_add(dataset, [photos, shipped], workspace=ws)
    assert r["added"] == 3, r
    assert r["skipped"] == 4  # the dataset's own images: near duplicates
    (cached,) = (ws.root / "pools" / dataset).glob(".phash-*.npz")  # the dataset's hashes, read once, not at every add
    with np.load(cached) as saved:
        assert len(saved["hashes"]) == ws.dataset(dataset)["images"] and float(saved["created"]) == ws.dataset(dataset)["created"]
    assert any(line.startswith("bomb.jpg: ") and "exceed the cap" in line for line in r["left_out"]), r["left_out"]
    assert "notes.txt: not an image or a video" in r["left_out"]
    assert not list((ws.root / "pools" / dataset).glob(".add-*"))  # the scratch of the zip is gone

    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as zf:
        zf.writestr("../outside.jpg", (photos / "new0.jpg").read_bytes())
    with pytest.raises(yolov11.UserError, match=r"slip\.zip: .*outside the archive"):
        yolov11.pool_add(dataset, [slip], workspace=ws)
    fake = tmp_path / "clip.mp4"
    fake.write_text("not a video")
    with pytest.raises(yolov11.UserError, match=r"^clip\.mp4: not a readable video"):
        yolov11.pool_add(dataset, [fake], workspace=ws)
    growing = write_growing_frames(tmp_path / "growing.mov")  # says 64x64, then a 16000x16000 frame
    for item in yolov11.pool_add(dataset, [growing], every=0.1, workspace=ws)["items"]:  # the big frame is never decoded
        with Image.open(item["file"]) as im:
            assert im.size == (64, 64)
    assert not (ws.root / "pools" / "outside.jpg").exists() and not (tmp_path / "outside.jpg").exists()
    assert not list((ws.root / "pools" / dataset).glob(".add-*"))
    with pytest.raises(yolov11.UserError, match=r"--data nope: not a dataset"):
        yolov11.pool_add("nope", [photos], workspace=ws)
    with pytest.raises(yolov11.UserError, match=r"--every 0: seconds between sampled frames"):
        yolov11.pool_add(dataset, [site["clip"]], every=0, workspace=ws)


def test_the_cli_adds_and_lists(site, tmp_path):
    ws, dataset = site["ws"], site["dataset"]
    Image.fromarray(scene(900)).save(tmp_path / "one.png")

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "yolov11", "--workspace", str(ws.root), *args], capture_output=True, text=True,
                              cwd=ROOT, timeout=300)

    added = cli("pool-add", "--data", dataset, str(tmp_path / "one.png"), "--every", "2", "--json")
    assert added.returncode == 0, added.stderr
    doc = json.loads(added.stdout)
    assert (doc["added"], doc["skipped"], doc["items"][0]["source"]) == (1, 0, "one.png")
    listed = json.loads(cli("pool-list", "--data", dataset, "--json").stdout)
    assert doc["items"][0]["id"] in [i["id"] for i in listed["items"]]
    refused = cli("pool-list", "--data", dataset, "--state", "maybe")
    assert refused.returncode == 2 and "invalid choice: 'maybe'" in refused.stderr
