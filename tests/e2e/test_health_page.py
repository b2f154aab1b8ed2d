"""The Data tab's health view in a real Chromium: a dropped Pascal VOC zip imports at once, the
header shows what the importer wrote literally ("<annotation>" as text, not swallowed as a
tag), and near-duplicate pairs are shown side by side with both file names, whole and at a
tile's size."""

from __future__ import annotations

import re

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

import yolov11

import format_fixtures as ff
from helpers import zip_folder

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def voc_zip(tmp_path_factory):
    """A 6-image Pascal VOC zip with a re-encoded copy of one image (a near duplicate), and the
    reason the importer gives for it, from importing the same zip here."""
    base = tmp_path_factory.mktemp("voc")
    src = ff.write_voc(ff.truth(n=6), base / "voc-angle")
    with Image.open(src / "JPEGImages" / "site_02.jpg") as im:
        im.save(src / "JPEGImages" / "site_02_copy.jpg", quality=60)  # a near copy, labelled like the original
    xml = (src / "Annotations" / "site_02.xml").read_text()
    (src / "Annotations" / "site_02_copy.xml").write_text(xml.replace("site_02.jpg", "site_02_copy.jpg"))
    path = zip_folder(src, base / "voc-angle.zip")
    report = yolov11.import_dataset(path, workspace=base / "ws")
    assert "<annotation>" in report["reason"]  # the text the page must show as written
    assert len(report["duplicates"]["near"]) == 1
    return path, report


def test_dropped_voc_zip_shows_importer_text_literally(page: Page, voc_zip):
    path, expected = voc_zip
    page.locator("#dataset-upload input[type=file]").set_input_files(str(path))  # dropped: no Import click
    summary = page.locator("#import-summary")
    expect(summary).to_contain_text("dataset voc-angle", timeout=120_000)
    expect(summary).to_contain_text(expected["reason"])
    health = page.locator("#health-summary")
    expect(health).to_contain_text("voc-angle")
    expect(health).to_contain_text(expected["reason"])  # "... Pascal VOC <annotation> XML files (e.g. ...)"
    assert "<annotation>" in health.inner_text()
    assert health.locator("annotation").count() == 0  # no element made of it

    pairs = page.locator("#duplicate-pairs")
    expect(pairs).to_be_visible()
    expect(pairs).to_contain_text("1 near pair(s)")
    first = pairs.locator("img").first
    expect(first).to_be_visible()
    expect(pairs).to_contain_text(re.compile(r"near: images/\w+/site_02(_copy)?\.jpg ↔ images/\w+/site_02(_copy)?\.jpg"))
    first.scroll_into_view_if_needed()  # Gradio's gallery loads its thumbnails lazily: only near the viewport, as a user scrolls
    page.wait_for_function("() => { const i = document.querySelector('#duplicate-pairs img'); "
                           "return i && i.complete && i.naturalWidth > 0; }")
    width = first.evaluate("img => img.naturalWidth / img.naturalHeight")
    assert width > 1.9, width  # two images side by side in one picture
    # The one pair is shown whole (not cropped to a square tile) and at a tile's size, not widened
    # to the gallery's full width as a blown-up fragment.
    assert first.evaluate("img => getComputedStyle(img).objectFit") == "contain"
    tile, gallery = first.bounding_box(), pairs.bounding_box()
    assert tile["width"] < gallery["width"] / 2, (tile, gallery)
    galleries = page.evaluate("() => Object.fromEntries(window.gradio_config.components.filter(c => c.type === 'gallery')"
                              ".map(c => [c.props.elem_id, [c.props.object_fit, c.props.fit_columns]]))")
    for elem_id in ("dataset-gallery", "duplicate-pairs", "issues-gallery"):  # the suspicious labels' too (Evaluate tab)
        assert galleries[elem_id] == ["contain", False], (elem_id, galleries.get(elem_id))

    page.locator("#import-button").click()  # the zip is imported already: shown again, not imported twice
    expect(summary).to_contain_text("was imported when it was dropped", timeout=60_000)
    expect(summary).to_contain_text("dataset voc-angle")
    expect(page.locator("#datasets-table")).to_contain_text("voc-angle")
    expect(page.locator("#datasets-table")).not_to_contain_text("voc-angle-2")
