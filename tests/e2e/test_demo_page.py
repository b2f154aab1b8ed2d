"""The /demo page in a real Chromium: a friendly note until a model is published, then a photo
dropped in comes back drawn large with what was found, and no workbench control in sight; the
title is the published name (never a raw run id), and a confidence typed in re-runs on Enter."""

from __future__ import annotations

import re
import shutil
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
        expect(page).to_have_title("hardhat-check")  # the browser tab too, not the workbench's title
        expect(page.locator("#demo-model")).to_contain_text("helmet, head, vest")
        expect(page.get_by_role("tab", name="Train")).to_have_count(0)  # only the demo: no workbench tabs or pickers
        expect(page.locator("#predict-run")).to_have_count(0)

        found = yolov11.predict(trained_run["weights"], trained_run["data_yaml"].parent / "images" / "val", conf=0.25,
                                workspace=tmp_path / "probe")
        photo = Path(max(found["images"], key=lambda i: len(i["detections"]))["image"])  # a photo with things to find
        expected = len(max(found["images"], key=lambda i: len(i["detections"]))["detections"])
        assert expected > 0
        page.locator("#demo-image input[type=file]").set_input_files(str(photo))  # no button: dropping runs it
        drawn = page.locator("#demo-output img")
        expect(drawn).to_be_visible()
        expect(page.locator("#demo-summary")).to_have_text(re.compile(rf"Found {expected} objects?: .+"))  # as predict finds at 25%
        size = drawn.evaluate("img => { const r = img.getBoundingClientRect(), "
                              "s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight); "
                              "return getComputedStyle(img).objectFit === 'contain' "
                              "? s * img.naturalHeight : Math.min(r.height, img.naturalHeight); }")
        assert size >= 300, f"the result is drawn large, not {size:.0f} px tall"
        annotated = list(ws.predictions_dir.glob(f"*/{photo.stem}.jpg"))  # (the visitor's photo is kept beside it, in upload/)
        assert len(annotated) == 1
        assert page.request.get(drawn.get_attribute("src")).body() == annotated[0].read_bytes()  # the drawn copy is shown
    finally:
        context.close()


def richest_photo(trained_run, tmp_path) -> tuple[Path, int]:
    """The fixture's val photo with the most detections at 25%, and how many."""
    found = yolov11.predict(trained_run["weights"], trained_run["data_yaml"].parent / "images" / "val", conf=0.25,
                            workspace=tmp_path / "probe")
    best = max(found["images"], key=lambda i: len(i["detections"]))
    return Path(best["image"]), len(best["detections"])


def test_demo_title_is_the_published_name_never_the_run_id(browser, demo_app, trained_run):
    url, ws = demo_app
    run = "20250101-000000-yolov11n"
    if ws.run(run) is None:  # a finished run of this workspace whose best.pt is the fixture's
        run_dir = ws.add_run(run, trained_run["dataset"], "yolov11n", {}, status="done")
        (run_dir / "weights").mkdir()
        shutil.copy(trained_run["weights"], run_dir / "weights" / "best.pt")
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yolov11.publish(run=run, workspace=ws)  # no name given: the card's name is the run id
        page.goto(url + "demo")
        expect(page.locator("#demo-model h2")).to_have_text("Helmet, head and vest detector")
        expect(page).to_have_title("Helmet, head and vest detector")
        expect(page.locator("#demo-model")).not_to_contain_text(run)

        yolov11.publish(run=run, name="site-helmets", workspace=ws)
        page.reload()
        expect(page.locator("#demo-model h2")).to_have_text("site-helmets")
        expect(page).to_have_title("site-helmets")
    finally:
        context.close()


def test_a_confidence_typed_in_and_enter_runs_again(browser, demo_app, trained_run, tmp_path):
    url, ws = demo_app
    yolov11.publish(weights=trained_run["weights"], name="hardhat-check", workspace=ws)
    photo, expected = richest_photo(trained_run, tmp_path)
    strict = yolov11.predict(trained_run["weights"], photo, conf=0.9, workspace=tmp_path / "probe")["images"][0]["detections"]
    assert len(strict) < expected  # a higher confidence keeps fewer: the summary must change
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(url + "demo")
        page.locator("#demo-image input[type=file]").set_input_files(str(photo))
        summary = page.locator("#demo-summary")
        expect(summary).to_have_text(re.compile(rf"Found {expected} objects?: .+"))
        box = page.locator("#demo-conf input[type=number]")
        box.fill("0.9")
        box.press("Enter")  # no slider to let go of: Enter commits the typed value
        expect(summary).to_have_text(re.compile(rf"Found {len(strict)} objects?: .+") if strict
                                     else "Nothing found at 90% confidence or more. Try a lower confidence.")
        expect(box).to_have_value("0.9")
    finally:
        context.close()


def test_small_objects_switch_draws_tile_boxes_on_the_full_frame(browser, demo_app, trained_run, tmp_path):
    """A 1024x576 frame holding four 128 px demo scenes at their native scale: shrunk to the
    model's 128 px in one pass it shows next to nothing; with "Small objects" the page predicts it
    tile by tile (60 tiles of 128 px, under the page's cap of 64) and draws on the whole frame."""
    import numpy as np
    from PIL import Image

    from yolov11.data.demo import draw_image

    url, ws = demo_app
    yolov11.publish(weights=trained_run["weights"], name="hardhat-check", workspace=ws)
    frame = np.full((576, 1024, 3), 128, np.uint8)
    for k in range(4):
        scene, _ = draw_image(7, k, size=128)
        frame[60 + 100 * (k % 2):188 + 100 * (k % 2), 40 + 250 * k:168 + 250 * k] = np.asarray(scene.convert("RGB"))
    photo = tmp_path / "yard.png"
    Image.fromarray(frame).save(photo)
    tiles = yolov11.predict(trained_run["weights"], photo, sliced=yolov11.Slicing(max_tiles=64), workspace=tmp_path / "probe")["images"][0]
    plain = yolov11.predict(trained_run["weights"], photo, workspace=tmp_path / "probe")["images"][0]
    assert tiles["tiles"] == 60 and len(tiles["detections"]) > len(plain["detections"])
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(url + "demo")
        page.locator("#demo-small input[type=checkbox]").check()
        page.locator("#demo-image input[type=file]").set_input_files(str(photo))
        n = len(tiles["detections"])
        expect(page.locator("#demo-summary")).to_have_text(re.compile(rf"Found {n} objects?: .+"))
        drawn = page.locator("#demo-output img")
        assert drawn.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [1024, 576]  # the full frame, boxes on it
    finally:
        context.close()
