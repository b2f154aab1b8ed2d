"""The /demo page in a real Chromium: a friendly note until a model is published, then a photo
dropped in comes back drawn large with what was found, and no workbench control in sight."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

import yolov11

from helpers import serving

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    """The app on a fresh workspace (nothing published yet): (url, workspace)."""
    ws = yolov11.Workspace.at(tmp_path_factory.mktemp("demo-page") / "ws")
    with serving(ws) as url:
        yield url, ws


def test_demo_page_shows_the_published_model_and_predicts_a_dropped_photo(browser, demo_app, trained_run, tmp_path):
    url, ws = demo_app
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(url + "demo")
        expect(page.locator("#demo-model")).to_contain_text("ask your ML engineer to publish one")

        yolov11.publish(weights=trained_run["weights"], name="hardhat-check", workspace=ws)
        page.reload()  # a visitor arriving after publishing
        expect(page.locator("#demo-model")).to_contain_text("hardhat-check")
        expect(page.locator("#demo-model")).to_contain_text("helmet, head, vest")
        expect(page.get_by_role("tab", name="Train")).to_have_count(0)  # only the demo: no workbench tabs or pickers
        expect(page.locator("#predict-run")).to_have_count(0)

        found = yolov11.predict(trained_run["weights"], trained_run["data_yaml"].parent / "images" / "val", conf=0.25, workspace=tmp_path / "probe")
        photo = Path(max(found["images"], key=lambda i: len(i["detections"]))["image"])  # a photo with things to find
        expected = len(max(found["images"], key=lambda i: len(i["detections"]))["detections"])
        assert expected > 0
        page.locator("#demo-image input[type=file]").set_input_files(str(photo))  # no button: dropping runs it
        drawn = page.locator("#demo-output img")
        expect(drawn).to_be_visible()
        expect(page.locator("#demo-summary")).to_have_text(re.compile(rf"Found {expected} objects?: .+"))  # as predict finds at 25%
        size = drawn.evaluate("img => { const r = img.getBoundingClientRect(), s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight); return getComputedStyle(img).objectFit === 'contain' ? s * img.naturalHeight : Math.min(r.height, img.naturalHeight); }")
        assert size >= 300, f"the result is drawn large, not {size:.0f} px tall"
        annotated = list(ws.predictions_dir.rglob(f"{photo.stem}.jpg"))
        assert len(annotated) == 1
        assert page.request.get(drawn.get_attribute("src")).body() == annotated[0].read_bytes()  # the drawn copy is shown
    finally:
        context.close()
