"""Video prediction: a generated 5-second clip of drawn shapes, tracked by a model really trained
on them, comes back as an annotated H.264 video of the same length with one track per shape;
files over a cap are refused naming the file (never a server path) and leave nothing behind, a
frame that grows past the pixel cap is refused before FFmpeg allocates it, a file cut short is
tracked up to the break and says so; a stopped video leaves nothing; one video at a time per
model; pruning never removes a video still running."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import av
import pytest
from PIL import Image

import yolov11
from yolov11.serve import video_file

from helpers import ROOT
from video_fixtures import CLIP_FPS, CLIP_OBJECTS, CLIP_SECONDS, EXPECTED, clip_frames, cut_inside_frame, write_clip, write_growing_frames

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
    assert tracked["warning"] is None  # the whole file was read


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
        os.ftruncate(f.fileno(), video_file.MAX_BYTES + 1)  # sparse: no disk used
    message, left = refused(shapes_model, big, tmp_path)
    assert message == "big.mp4: 200 MB is over the 200 MB limit for a video"
    assert left == []


def test_a_too_long_video_is_refused(shapes_model, tmp_path):
    frames = clip_frames(seconds=video_file.MAX_SECONDS + 1, fps=1, w=64, h=64, objects=[])
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
    assert message == "notes.mov: not a readable video (Invalid data found when processing input)"  # FFmpeg's text carried the server path
    assert left == []


def test_messages_name_files_by_their_name_never_a_server_path(shapes_model, shapes_clip, tmp_path):
    """What /demo visitors and API callers read must not map the server's folders."""
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(shapes_clip.read_bytes()[:2000])
    calls = {
        "--weights gone.pt: no such file": lambda: yolov11.predict_video(tmp_path / "gone.pt", shapes_clip, workspace=tmp_path / "ws"),
        "--weights model.bin: expected a .onnx, .pt, .torchscript file or a *_openvino_model or *_ncnn_model folder":
            lambda: yolov11.predict_video(tmp_path / "model.bin", shapes_clip, workspace=tmp_path / "ws"),
        "--source gone.png: no such file or folder":
            lambda: yolov11.predict(shapes_model["weights"], tmp_path / "gone.png", workspace=tmp_path / "ws"),
        "broken.mp4: not a readable video (Invalid data found when processing input)":
            lambda: yolov11.predict_video(shapes_model["weights"], broken, workspace=tmp_path / "ws"),
    }
    for expected, call in calls.items():
        with pytest.raises(yolov11.UserError) as err:
            call()
        assert str(err.value) == expected


# --- hostile files: frames that grow after the header, a file cut short -------------------------


def _peak_growth_mb(call) -> float:
    """How far this process's peak resident memory rose above its size before ``call`` (MB):
    Linux's VmHWM, reset to the current size first (/proc/self/clear_refs), so FFmpeg's own
    allocations count, which tracemalloc does not see."""

    def status(field: str) -> int:
        return next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field + ":"))

    Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from the current size
    before = status("VmRSS")
    call()
    return (status("VmHWM") - before) / 1024


def test_a_frame_that_grows_past_the_cap_is_refused_before_it_is_decoded(shapes_model, tmp_path):
    ws = yolov11.Workspace.at(tmp_path / "ws")
    warm = yolov11.predict_video(shapes_model["weights"], write_growing_frames(tmp_path / "small.mov", side=64), workspace=ws)
    assert warm["frames"] == 4  # the same file with a 64x64 fourth frame: all read (and the libraries' first-use memory taken)
    grow = write_growing_frames(tmp_path / "grow.mov")  # 64x64 header and frames, then 16000x16000
    assert grow.stat().st_size < 2 * 1024 * 1024  # a small file ...
    errors = []

    def run():
        with pytest.raises(yolov11.UserError) as err:
            yolov11.predict_video(shapes_model["weights"], grow, workspace=ws)
        errors.append(str(err.value))

    growth = _peak_growth_mb(run)
    # ... whose fourth frame is 256 MB of grey once decoded. Measured in 5 fresh processes after
    # the same warm-up: 7-10 MB (the model loaded again, three small frames tracked); before the
    # fix, 250-255 MB.
    assert growth < 64, f"peak memory rose {growth:.0f} MB"
    assert errors == ["grow.mov: frame 4 is over the cap of 8,294,400 pixels a frame (4K), or its size is broken"]
    assert [p.name for p in ws.predictions_dir.iterdir()] == [Path(warm["dir"]).name]  # nothing of the refused one


def test_a_file_cut_short_is_tracked_up_to_the_break_and_says_so(shapes_model, tmp_path):
    whole = write_clip(tmp_path / "whole.mp4", faststart=True)  # the index first: the cut file still opens
    cut = cut_inside_frame(whole, tmp_path / "cut.mp4", 30)
    r = yolov11.predict_video(shapes_model["weights"], cut, workspace=tmp_path / "ws")
    assert r["warning"] == f"the file ends early: 30 of {CLIP_FPS * CLIP_SECONDS} frames"
    assert (r["frames"], r["counts"]) == (30, EXPECTED)
    with av.open(r["video"]) as c:
        assert sum(1 for _ in c.decode(c.streams.video[0])) == 30


def test_a_run_stopped_midway_leaves_nothing_behind(shapes_model, shapes_clip, tmp_path):
    ws = yolov11.Workspace.at(tmp_path / "ws")

    def stop(fraction, message):
        raise KeyboardInterrupt  # what a cancelled request raises in the worker

    with pytest.raises(KeyboardInterrupt):
        yolov11.predict_video(shapes_model["weights"], shapes_clip, workspace=ws, progress=stop)
    assert list(ws.predictions_dir.iterdir()) == []


def test_a_stopped_video_ends_within_a_frame_and_leaves_nothing(shapes_model, shapes_clip, tmp_path):
    ws = yolov11.Workspace.at(tmp_path / "ws")
    stop = threading.Event()

    def progress(fraction, message):
        stop.set()  # what the app does when its caller cancels or closes the page

    with pytest.raises(yolov11.UserError) as err:
        yolov11.predict_video(shapes_model["weights"], shapes_clip, workspace=ws, progress=progress, stop=stop)
    # progress comes after frame 5
    assert str(err.value) == f"shapes.mp4: stopped at frame 6 of {CLIP_FPS * CLIP_SECONDS}; nothing was kept"
    assert list(ws.predictions_dir.iterdir()) == []
    assert list((ws.root / ".predicting").iterdir()) == []


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


# --- pruning (the newest KEEP_PREDICTIONS calls are kept) never removes a call still running ------


def test_pruning_never_removes_a_video_in_flight(shapes_model, tmp_path, monkeypatch):
    monkeypatch.setattr(importlib.import_module("yolov11.serve.predict"), "KEEP_PREDICTIONS", 2)  # 200 calls' worth, made small
    ws = yolov11.Workspace.at(tmp_path / "ws")
    clip = write_clip(tmp_path / "clip.mp4", clip_frames(seconds=2))
    photo = tmp_path / "photo.png"
    Image.fromarray(clip_frames(seconds=0.1)[0]).save(photo)
    started, release, video = threading.Event(), threading.Event(), {}

    def hold(fraction, message):
        started.set()
        release.wait(60)

    def run_video():
        try:
            video["result"] = yolov11.predict_video(shapes_model["weights"], clip, workspace=ws, progress=hold)
        except BaseException as exc:
            video["error"] = exc

    worker = threading.Thread(target=run_video)
    worker.start()
    try:
        assert started.wait(60)
        photos = [yolov11.predict(shapes_model["weights"], photo, workspace=ws)["dir"] for _ in range(3)]  # each prunes to the newest
        assert [p.name for p in ws.predictions_dir.glob("*-video-*")], "this process's pruning removed the running video"
        other = f"from yolov11 import Workspace; from yolov11.serve.predict import _prune; _prune(Workspace.at({str(ws.root)!r}), 0)"
        subprocess.run([sys.executable, "-c", other], cwd=ROOT, check=True, timeout=120)  # another process keeping no finished call
        assert [p.name for p in ws.predictions_dir.glob("*-video-*")], "another process's pruning removed the running video"
    finally:
        release.set()
        worker.join(120)
    assert "error" not in video, video.get("error")
    assert Path(video["result"]["video"]).is_file()
    assert video["result"]["frames"] == 2 * CLIP_FPS
    assert not any(Path(d).exists() for d in photos)  # the finished calls were pruned meanwhile
    assert [p.name for p in ws.predictions_dir.iterdir()] == [Path(video["result"]["dir"]).name]
