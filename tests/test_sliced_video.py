"""Sliced tracking (issue 24): a video whose frames are five times the model's input, with the
drawn shapes at their native size. One pass per frame finds nothing; tile by tile, every object is
followed through the clip as one track, through the Python call and the CLI alike. A public page's
cap on tiles x frames refuses a clip at its first frame and keeps nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import yolov11
from yolov11.__main__ import main as cli_main

from video_fixtures import CLIP_FPS, EXPECTED, WIDE_H, WIDE_OBJECTS, WIDE_SECONDS, WIDE_W, clip_frames, write_clip

FRAMES = WIDE_SECONDS * CLIP_FPS
TILES = 24  # 128 px tiles, overlap 0.2: 6 across 640 px, 4 down 384 px


@pytest.fixture(scope="module")
def wide_clip(tmp_path_factory) -> Path:
    return write_clip(tmp_path_factory.mktemp("wide") / "yard.mp4", clip_frames(WIDE_SECONDS, w=WIDE_W, h=WIDE_H, objects=WIDE_OBJECTS))


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> yolov11.Workspace:
    return yolov11.Workspace.at(tmp_path_factory.mktemp("sliced-video-ws"))


def test_tiles_follow_every_small_object_that_one_pass_misses(shapes_model, wide_clip, ws):
    # Measured (shared shapes model, 2026-12-05): sliced, 3 tracks of 20 of 20 frames each; one pass, no detection at all.
    # The second square straddles a seam in every tile: it is found as the union of its pieces.
    sliced = yolov11.predict_video(shapes_model["weights"], wide_clip, workspace=ws, sliced=True)
    plain = yolov11.predict_video(shapes_model["weights"], wide_clip, workspace=ws)
    assert sliced["tiles"] == TILES and sliced["sliced"]["overlap"] == 0.2 and sliced["frames"] == FRAMES
    assert sliced["counts"] == EXPECTED
    assert all(t["frames"] >= FRAMES - 2 for t in sliced["tracks"]), sliced["tracks"]  # followed through the clip
    assert Path(sliced["video"]).is_file() and (sliced["width"], sliced["height"]) == (WIDE_W, WIDE_H)
    assert sum(len(f["detections"]) for f in plain["per_frame"]) < sum(len(f["detections"]) for f in sliced["per_frame"]) / 2
    json.dumps(sliced)


def test_a_pages_cap_on_tiles_times_frames_refuses_at_the_first_frame(shapes_model, wide_clip, ws):
    capped = yolov11.Slicing(max_video_tiles=TILES * FRAMES - 1)
    before = set((ws.root / "predictions").iterdir())
    with pytest.raises(yolov11.UserError, match=rf"yard\.mp4: this video would be looked at in {TILES * FRAMES} pieces "
                                                rf"\({TILES} per frame\), more than this page does \({TILES * FRAMES - 1}\)"):
        yolov11.predict_video(shapes_model["weights"], wide_clip, workspace=ws, sliced=capped)
    assert set((ws.root / "predictions").iterdir()) == before  # nothing kept


def test_the_cli_tracks_tile_by_tile_and_refuses_bad_numbers_in_one_line(shapes_model, wide_clip, ws, monkeypatch, capsys):
    monkeypatch.setenv("YOLOV11_WORKSPACE", str(ws.root))  # what --workspace does, undone after the test
    args = ["predict", "--weights", str(shapes_model["weights"]), "--source", str(wide_clip)]
    assert cli_main([*args, "--slice", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["counts"] == EXPECTED and done["tiles"] == TILES
    assert cli_main([*args, "--slice", "auto"]) == 0  # 640 px > 2 x 128: sliced; the summary says how
    said = capsys.readouterr().out
    assert f"{FRAMES} frames ({TILES} tiles each)" in said and "2 square" in said
    assert cli_main([*args, "--slice", "--slice-overlap", "0.95"]) == 2
    bad = capsys.readouterr().err
    assert "--slice-overlap 0.95: the share of a tile its neighbour repeats" in bad and "Traceback" not in bad
