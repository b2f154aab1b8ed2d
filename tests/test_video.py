"""Video prediction: a generated 5-second clip of drawn shapes, tracked by a model really trained
on them, comes back as an annotated H.264 video of the same length with one track per shape;
files over a cap are refused naming the file and leave nothing behind; one video at a time per
model."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import av
import pytest

import yolov11
from yolov11.serve import video as video_mod

from video_fixtures import CLIP_FPS, CLIP_OBJECTS, CLIP_SECONDS, EXPECTED, clip_frames, write_clip

# Measured (3 fresh processes, each training the fixture model from scratch and tracking the clip
# at conf 0.25, 2026-12-02): 3 tracks every time (2 square, 1 disc), each track 50 of 50 frames,
# 150 of 150 detections; lowest confidence 0.73 (square) and 0.79 (disc), identical in all three
# runs (seeded, deterministic), so the default conf of 0.25 is far from the edge. Weaker settings
# measured on the way (10 epochs, 80 training images) dropped to 0.26 and missed frames.


@pytest.fixture(scope="module")
def video_ws(tmp_path_factory):
    return yolov11.Workspace.at(tmp_path_factory.mktemp("video-ws"))


@pytest.fixture(scope="module")
def tracked(shapes_model, shapes_clip, video_ws) -> dict:
    return yolov11.predict_video(shapes_model["weights"], shapes_clip, workspace=video_ws)


def test_one_track_per_object_drawn(tracked):
    assert len(tracked["tracks"]) == len(CLIP_OBJECTS)


def test_distinct_objects_per_class_equal_the_objects_drawn(tracked):
    assert tracked["counts"] == EXPECTED


def test_each_track_follows_its_object_through_the_clip(tracked):
    assert [(t["first_frame"], t["last_frame"]) for t in tracked["tracks"]] == [(0, CLIP_FPS * CLIP_SECONDS - 1)] * len(CLIP_OBJECTS)


def test_per_frame_detections_have_their_fields(tracked):
    frames = tracked["per_frame"]
    assert [f["frame"] for f in frames] == list(range(CLIP_FPS * CLIP_SECONDS))
    assert [f["t"] for f in frames] == [round(i / CLIP_FPS, 4) for i in range(CLIP_FPS * CLIP_SECONDS)]
    detections = [d for f in frames for d in f["detections"]]
    assert {tuple(sorted(d)) for d in detections} == {("box", "class", "confidence", "track")}
    assert {len(d["box"]) for d in detections} == {4}
    assert {d["track"] for d in detections} == {t["id"] for t in tracked["tracks"]}


def test_the_result_is_json(tracked):
    assert json.loads(json.dumps(tracked)) == tracked


def test_result_states_the_videos_shape(tracked):
    assert (tracked["fps"], tracked["frames"], tracked["duration_s"], tracked["width"], tracked["height"]) == (CLIP_FPS, 50, 5.0, 160, 128)


def test_annotated_video_is_written_to_the_workspaces_predictions(tracked, video_ws):
    assert Path(tracked["video"]).parent.parent == video_ws.predictions_dir


def test_annotated_video_is_h264_of_the_clips_length(tracked):
    with av.open(tracked["video"]) as c:
        stream = c.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        frames = sum(1 for _ in c.decode(stream))
        duration = float(stream.duration * stream.time_base)
    assert frames == CLIP_FPS * CLIP_SECONDS
    assert duration == pytest.approx(CLIP_SECONDS, abs=1 / CLIP_FPS)


def test_annotated_video_has_its_index_first(tracked):
    head = open(tracked["video"], "rb").read()
    assert head.find(b"moov") < head.find(b"mdat")  # faststart: a browser plays it before it has it all


def test_a_second_video_starts_its_tracks_afresh(tracked, shapes_model, shapes_clip, tmp_path):
    again = yolov11.predict_video(shapes_model["weights"], shapes_clip, workspace=tmp_path)
    assert again["tracks"] == tracked["tracks"]  # same ids: no tracker state carried over


def test_a_webm_clip_is_tracked_too(shapes_model, tmp_path):
    webm = write_clip(tmp_path / "shapes.webm", codec="libvpx-vp9")
    assert yolov11.predict_video(shapes_model["weights"], webm, workspace=tmp_path / "ws")["counts"] == EXPECTED


# --- caps: each refused with one line naming the file, nothing left in predictions/ -------------


def refused(shapes_model, path, tmp_path) -> tuple[str, list]:
    ws = yolov11.Workspace.at(tmp_path / "ws")
    with pytest.raises(yolov11.UserError) as err:
        yolov11.predict_video(shapes_model["weights"], path, workspace=ws)
    return str(err.value), list(ws.predictions_dir.iterdir())


def test_a_wrong_suffix_is_refused(shapes_model, shapes_clip, tmp_path):
    avi = shutil.copy(shapes_clip, tmp_path / "shapes.avi")
    message, left = refused(shapes_model, avi, tmp_path)
    assert message == "shapes.avi: not a video this app takes (use .mov, .mp4, .webm)"
    assert left == []


def test_an_oversize_file_is_refused(shapes_model, tmp_path):
    big = tmp_path / "big.mp4"
    with open(big, "wb") as f:
        os.ftruncate(f.fileno(), video_mod.MAX_BYTES + 1)  # sparse: no disk used
    message, left = refused(shapes_model, big, tmp_path)
    assert message == "big.mp4: 200 MB is over the 200 MB limit for a video"
    assert left == []


def test_a_too_long_video_is_refused(shapes_model, tmp_path):
    frames = clip_frames(seconds=video_mod.MAX_SECONDS + 1, fps=1, w=64, h=64, objects=[])
    long = write_clip(tmp_path / "long.mp4", frames, fps=1)
    message, left = refused(shapes_model, long, tmp_path)
    assert message == "long.mp4: 61 s long, over the 60 s limit for a video (cut it shorter)"
    assert left == []


def test_a_pixel_bomb_frame_is_refused(shapes_model, tmp_path):
    huge = write_clip(tmp_path / "huge.mp4", clip_frames(seconds=1, fps=1, w=4096, h=2048, objects=[]), fps=1)
    message, left = refused(shapes_model, huge, tmp_path)
    assert message == "huge.mp4: 4096x2048 frames exceed the cap of 8,294,400 pixels a frame (4K)"
    assert left == []


def test_a_corrupt_file_is_refused(shapes_model, shapes_clip, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(shapes_clip.read_bytes()[: shapes_clip.stat().st_size // 2])  # the index (at the end) cut off
    message, left = refused(shapes_model, broken, tmp_path)
    assert message.startswith("broken.mp4: not a readable video (")
    assert left == []


def test_a_file_that_is_not_a_video_is_refused(shapes_model, tmp_path):
    text = tmp_path / "notes.mov"
    text.write_text("not a video at all\n" * 100)
    message, left = refused(shapes_model, text, tmp_path)
    assert message.startswith("notes.mov: not a readable video (")
    assert left == []


def test_a_run_stopped_midway_leaves_nothing_behind(shapes_model, shapes_clip, tmp_path):
    ws = yolov11.Workspace.at(tmp_path / "ws")

    def stop(fraction, message):
        raise KeyboardInterrupt  # what a cancelled request raises in the worker

    with pytest.raises(KeyboardInterrupt):
        yolov11.predict_video(shapes_model["weights"], shapes_clip, workspace=ws, progress=stop)
    assert list(ws.predictions_dir.iterdir()) == []


# --- one video at a time per model ---------------------------------------------------------------


def test_one_video_at_a_time_per_model(shapes_model, shapes_clip, tmp_path):
    started, release = threading.Event(), threading.Event()
    first: dict = {}

    def hold(fraction, message):
        started.set()
        release.wait(30)

    def run_first():
        first["result"] = yolov11.predict_video(shapes_model["weights"], shapes_clip, workspace=tmp_path / "a", progress=hold)

    worker = threading.Thread(target=run_first)
    worker.start()
    try:
        assert started.wait(30)
        with pytest.raises(yolov11.UserError) as err:
            yolov11.predict_video(shapes_model["weights"], shapes_clip, workspace=tmp_path / "b")
        other = shutil.copy(shapes_model["weights"], tmp_path / "other.pt")  # another model file is not held up
        assert yolov11.predict_video(other, shapes_clip, workspace=tmp_path / "c")["counts"] == EXPECTED
    finally:
        release.set()
        worker.join(60)
    assert str(err.value) == f"{shapes_model['weights'].name}: a video is already running on that model; try again when it has finished"
    assert first["result"]["counts"] == EXPECTED
    assert yolov11.predict_video(shapes_model["weights"], shapes_clip, workspace=tmp_path / "d")["counts"] == EXPECTED  # released when done
