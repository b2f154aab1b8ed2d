"""A video on the /demo page, in a real Chromium: the generated 5-second clip of drawn shapes,
dropped in, comes back as an annotated video the browser really decodes and plays (its duration
is the clip's, and playing advances it), with one object counted per shape drawn and the chart of
detections over time; a broken file says so in words. The Predict tab's endpoint gives the same
counts. A video cancelled through the API (either endpoint) or whose page is closed stops within
a frame: its model is free for the next video at once and predictions/ keeps nothing of it."""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from playwright.sync_api import expect

import yolov11

from helpers import serving
from video_fixtures import (
    CLIP_FPS,
    CLIP_SECONDS,
    EXPECTED,
    WIDE_H,
    WIDE_OBJECTS,
    WIDE_SECONDS,
    WIDE_W,
    clip_frames,
    cut_inside_frame,
    write_clip,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def published(app_url, shapes_model):
    """The shapes model published into the shared app's workspace, as the Predict tab does it."""
    Client(app_url, verbose=False).predict("", handle_file(str(shapes_model["weights"])), "shapes-video", False, api_name="/publish_model")
    return "shapes-video"


def expected_sentence() -> str:
    total = sum(EXPECTED.values())
    parts = ", ".join(f"{n} {name}" for name, n in sorted(EXPECTED.items(), key=lambda kv: (-kv[1], kv[0])))
    return f"Found {total} distinct objects in {CLIP_SECONDS:.1f} s of video: {parts}."


@contextlib.contextmanager
def demo_page(browser, app_url: str, published: str):
    """/demo in a fresh browser context, once it shows the published model."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(app_url + "demo")
        expect(page.locator("#demo-model")).to_contain_text(published)
        yield page
    finally:
        context.close()


def test_a_dropped_video_plays_annotated_with_its_objects_counted(browser, app_url, published, shapes_clip):
    with demo_page(browser, app_url, published) as page:
        page.locator("#demo-video input[type=file]").set_input_files(str(shapes_clip))  # no button: dropping runs it
        expect(page.locator("#demo-video-summary")).to_have_text(expected_sentence(), timeout=60_000)  # the whole video tracked
        video = page.locator("#demo-video-output video")
        expect(video).to_be_visible()
        page.wait_for_function("v => v.readyState >= 1 && isFinite(v.duration)", arg=video.element_handle())
        duration = video.evaluate("v => v.duration")
        assert duration == pytest.approx(CLIP_SECONDS, abs=2 / CLIP_FPS)  # within two frames
        video.evaluate("v => { v.muted = true; return v.play(); }")  # rejects if Chromium cannot decode it
        page.wait_for_function("v => v.currentTime > 0.5", arg=video.element_handle(), timeout=15_000)
        assert video.evaluate("v => v.error") is None
        counts = page.locator("#demo-video-counts")
        for name, n in EXPECTED.items():
            expect(counts.get_by_role("row").filter(has=page.get_by_role("gridcell", name=name, exact=True))).to_contain_text(str(n))
        chart = page.locator("#demo-video-chart .js-plotly-plot")
        expect(chart).to_be_visible()
        expect(chart.locator(".legendtext")).to_have_text(sorted(EXPECTED))


def test_a_broken_video_says_so_in_words(browser, app_url, published, shapes_clip, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(shapes_clip.read_bytes()[: shapes_clip.stat().st_size // 2])
    with demo_page(browser, app_url, published) as page:
        page.locator("#demo-video input[type=file]").set_input_files(str(broken))
        expect(page.get_by_text(re.compile(r"broken\.mp4: not a readable video"))).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Traceback")).to_have_count(0)
        expect(page.get_by_text(re.compile(r"/\w+/\S*broken\.mp4"))).to_have_count(0)  # no server path before the name


def test_the_predict_tab_endpoint_counts_the_same(app_url, shapes_model, shapes_clip):
    client = Client(app_url, verbose=False)
    video, counts, chart, code = client.predict("", handle_file(str(shapes_clip)), 0.25, handle_file(str(shapes_model["weights"])), False,
                                                api_name="/predict_video")
    assert {row[0]: row[1] for row in counts["data"]} == EXPECTED


# --- a cancelled video, or one whose page is closed, stops and frees its model ----------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory, shapes_model):
    """The app in this process, on a fresh workspace with the shapes model published: (url, workspace)."""
    ws = yolov11.Workspace.at(tmp_path_factory.mktemp("video-cancel") / "ws")
    yolov11.publish(weights=shapes_model["weights"], name="shapes-cancel", workspace=ws)
    with serving(ws) as url:
        yield url, ws


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict:
    """A 30-second clip (300 frames: left to run, it takes far longer than the checks below wait)
    and a 1-second one of the shapes."""
    base = tmp_path_factory.mktemp("cancel-clips")
    return {"long": write_clip(base / "long.mp4", clip_frames(seconds=30, objects=[])),
            "short": write_clip(base / "short.mp4", clip_frames(seconds=1))}


ENDPOINTS = {  # each video endpoint's inputs for a clip, with the shapes model
    "/predict_video": lambda clip, weights: ("", handle_file(str(clip)), 0.25, handle_file(str(weights)), False),
    "/demo_predict_video": lambda clip, weights: (handle_file(str(clip)), 0.25),  # the published copy
}
STOPPED_WITHIN_S = 10.0  # a frame takes well under a second here; the 300-frame clip runs 15-40 s


def calls(ws: yolov11.Workspace) -> set[str]:
    """The workspace's prediction folders and in-flight markers (removed last, after the folder)."""
    return {f"{folder.name}/{p.name}" for folder in (ws.predictions_dir, ws.root / ".predicting") if folder.is_dir()
            for p in folder.iterdir()}


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds:.0f} s: {what}"
        time.sleep(0.05)


def runs_again(client: Client, api: str, clips: dict, weights: Path) -> None:
    """A second video on the same model runs (a video still running would hold it: refused)."""
    video = client.predict(*ENDPOINTS[api](clips["short"], weights), api_name=api)[0]  # the annotated video, downloaded
    assert Path(video).is_file()


@pytest.mark.parametrize("api", ENDPOINTS)
def test_a_cancelled_video_stops_frees_its_model_and_leaves_nothing(served, api, clips, shapes_model):
    url, ws = served
    client = Client(url, verbose=False)
    before = calls(ws)  # earlier tests' finished videos
    job = client.submit(*ENDPOINTS[api](clips["long"], shapes_model["weights"]), api_name=api)
    wait_until(lambda: job.status().progress_data, 60, "the first frames tracked")
    assert calls(ws) - before  # its folder, marked in flight
    job.cancel()
    wait_until(lambda: not calls(ws) - before, STOPPED_WITHIN_S, f"nothing left of the cancelled video ({calls(ws) - before})")
    runs_again(client, api, clips, shapes_model["weights"])


def test_closing_the_page_stops_its_video(browser, served, clips, shapes_model):
    url, ws = served
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url + "demo")
    expect(page.locator("#demo-model")).to_contain_text("shapes-cancel")
    before = calls(ws)
    page.locator("#demo-video input[type=file]").set_input_files(str(clips["long"]))
    expect(page.get_by_text(re.compile(r"frame \d+ of 300")).first).to_be_visible(timeout=60_000)  # its progress shown
    assert calls(ws) - before
    context.close()  # the tab closed
    wait_until(lambda: not calls(ws) - before, STOPPED_WITHIN_S, f"nothing left of the abandoned video ({calls(ws) - before})")
    runs_again(Client(url, verbose=False), "/demo_predict_video", clips, shapes_model["weights"])


def test_a_file_cut_short_is_tracked_and_both_pages_say_so(served, shapes_model, tmp_path):
    url, _ = served
    cut = cut_inside_frame(write_clip(tmp_path / "whole.mp4", faststart=True), tmp_path / "cut.mp4", 30)
    note = f"**Note: the file ends early: 30 of {CLIP_FPS * CLIP_SECONDS} frames.**"
    client = Client(url, verbose=False)
    _, sentence, _, _ = client.predict(handle_file(str(cut)), 0.25, api_name="/demo_predict_video")
    assert sentence.startswith(note + "\n\nFound 3 distinct objects in 3.0 s of video")
    _, _, _, code = client.predict("", handle_file(str(cut)), 0.25, handle_file(str(shapes_model["weights"])), False,
                                   api_name="/predict_video")
    assert code.startswith(note)


def test_small_objects_track_tile_by_tile_on_both_endpoints_and_the_demo_caps_the_work(served, shapes_model, tmp_path):
    """The last input of /predict_video ("on") and /demo_predict_video (True): the 640x384 clip's small
    shapes, which one pass misses, are counted (tests/test_sliced_video.py measures the tracks); the
    demo refuses a clip whose tiles x frames pass its cap, at once, in words, and keeps nothing."""
    url, ws = served
    wide = write_clip(tmp_path / "yard.mp4", clip_frames(WIDE_SECONDS, w=WIDE_W, h=WIDE_H, objects=WIDE_OBJECTS))
    client = Client(url, verbose=False)
    _, counts, _, code = client.predict("", handle_file(str(wide)), 0.25, handle_file(str(shapes_model["weights"])), False, "on",
                                        api_name="/predict_video")
    assert {row[0]: row[1] for row in counts["data"]} == EXPECTED
    assert "sliced=True" in code and "--slice on" in code
    _, sentence, _, _ = client.predict(handle_file(str(wide)), 0.25, True, api_name="/demo_predict_video")
    assert sentence == f"Found 3 distinct objects in {WIDE_SECONDS:.1f} s of video: 2 square, 1 disc."
    _, sentence, _, _ = client.predict(handle_file(str(wide)), 0.25, False, api_name="/demo_predict_video")
    assert sentence.startswith("Nothing found")  # one pass: the shapes are five times too small
    long = write_clip(tmp_path / "long-yard.mp4", clip_frames(16, w=WIDE_W, h=WIDE_H, objects=[]))  # 160 frames x 24 tiles > 3600
    before = calls(ws)
    with pytest.raises(Exception, match=r"long-yard\.mp4: this video would be looked at in 3840 pieces \(24 per frame\), "
                                        r"more than this page does \(3600\)"):
        client.predict(handle_file(str(long)), 0.25, True, api_name="/demo_predict_video")
    assert calls(ws) == before
