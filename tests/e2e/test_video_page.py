"""A video on the /demo page, in a real Chromium: the generated 5-second clip of drawn shapes,
dropped in, comes back as an annotated video the browser really decodes and plays (its duration
is the clip's, and playing advances it), with one object counted per shape drawn and the chart of
detections over time; a broken file says so in words. The Predict tab's endpoint gives the same
counts."""

from __future__ import annotations

import contextlib
import re

import pytest
from gradio_client import Client, handle_file
from playwright.sync_api import expect

from video_fixtures import CLIP_FPS, CLIP_SECONDS, EXPECTED

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


def test_the_predict_tab_endpoint_counts_the_same(app_url, shapes_model, shapes_clip):
    client = Client(app_url, verbose=False)
    video, counts, chart, code = client.predict("", handle_file(str(shapes_clip)), 0.25, handle_file(str(shapes_model["weights"])), False, api_name="/predict_video")
    assert {row[0]: row[1] for row in counts["data"]} == EXPECTED
