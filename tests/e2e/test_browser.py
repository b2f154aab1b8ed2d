"""The whole flow in a real Chromium against `python app.py`: upload a zip, train one epoch
while the chart and log grow, evaluate, export ONNX and download it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from ui import open_tab, pick

pytestmark = pytest.mark.browser


def chart_points(page: Page) -> int:
    """Points drawn in the live chart's first trace (training loss by batch)."""
    return page.evaluate("() => { const p = document.querySelector('#train-chart .js-plotly-plot'); "
                         "return p && p.data ? p.data[0].x.length : 0; }")


def test_demo_dataset_is_listed_without_upload(page: Page):
    expect(page.locator("#datasets-table")).to_contain_text("demo-hardhat")
    expect(page.locator("#datasets-table")).to_contain_text("helmet, head, vest")
    expect(page.locator("#health-summary")).to_contain_text("300 images")
    # labels drawn on the demo images: the page's first gallery, drawn while the page loads (slow on a busy machine)
    expect(page.locator("#dataset-gallery img").first).to_be_visible(timeout=30_000)
    pick(page, "gallery-problem", "no labels")
    expect(page.locator("#dataset-gallery img")).to_have_count(0)  # every demo image has boxes
    expect(page.locator("#dataset-gallery")).to_contain_text("no image matches this filter (all classes · no labels)")  # not blank


def column_headers(page: Page, elem_id: str) -> list[str]:
    table = page.locator(f"#{elem_id}")
    expect(table.get_by_role("columnheader").first).to_be_visible()
    return [h.strip() for h in table.get_by_role("columnheader").all_inner_texts()]


def test_empty_tables_show_their_headers(page: Page, app_url):
    """A table with nothing yet shows what its columns will be, not Gradio's "1 | 2 | 3"."""
    open_tab(page, "Predict")
    assert column_headers(page, "predict-table") == ["class", "confidence", "box"]
    assert column_headers(page, "predict-video-counts") == ["class", "objects"]
    open_tab(page, "Train")
    page.get_by_text("Model zoo, model card, your own YAML or weights").click()
    assert column_headers(page, "zoo-table")[:3] == ["name", "family", "scale"]
    page.goto(app_url + "demo")
    assert column_headers(page, "demo-table") == ["class", "confidence"]
    assert column_headers(page, "demo-video-counts") == ["class", "objects"]


def test_upload_train_evaluate_export(page: Page, upload_zip):
    page.locator("#dataset-upload input[type=file]").set_input_files(str(upload_zip))
    # Gradio may break the name before its extension
    expect(page.locator("#dataset-upload")).to_contain_text(re.compile(r"site-photos\s*\.zip"))
    page.locator("#import-button").click()
    expect(page.locator("#import-summary")).to_contain_text("dataset site-photos", timeout=120_000)
    expect(page.locator("#datasets-table")).to_contain_text("site-photos")

    open_tab(page, "Train")
    pick(page, "train-dataset", "site-photos")
    # 3 epochs: since the start-of-run trace is gone, one 64 px epoch can end between two chart
    # refreshes (a CI run saw the chart go 0 -> 4 points at once); three give several refreshes.
    for elem_id, value in (("train-epochs", "3"), ("train-imgsz", "64"), ("train-batch", "2")):
        page.locator(f"#{elem_id} input").fill(value)
    page.locator("#start-button").click()
    run_box = page.locator("#train-run textarea, #train-run input").first
    expect(run_box).to_have_value(re.compile(r"\d{8}-\d{6}-yolov11n"))
    run_id = run_box.input_value()

    # While the run is going: the chart gains points and the log gains lines.
    expect(page.locator("#train-progress")).to_contain_text("running", timeout=120_000)
    log = page.locator("#train-log textarea")
    seen_points, seen_log = set(), set()
    while "running" in page.locator("#train-progress").inner_text():
        seen_points.add(chart_points(page))
        seen_log.add(len(log.input_value()))
        page.wait_for_timeout(300)
    assert len(seen_points - {0}) >= 2, f"chart did not grow while running: {seen_points}"
    assert len(seen_log - {0}) >= 2, f"log did not grow while running: {seen_log}"
    expect(page.locator("#train-progress")).to_contain_text("done", timeout=120_000)
    expect(log).to_have_value(re.compile("epochs completed"))

    # Opening a tab relists its run picker; a click before that lands sends an empty pick (a CI
    # run with the second core busy saw "pick a finished run first"): wait for it as a user would.
    open_tab(page, "Evaluate")
    expect(page.locator("#eval-run input")).to_have_value(run_id)
    page.locator("#evaluate-button").click()
    table = page.locator("#eval-table")
    expect(table).to_contain_text("helmet", timeout=120_000)
    expect(table).to_contain_text("mAP50-95")

    open_tab(page, "Export")
    expect(page.locator("#export-run input")).to_have_value(run_id)
    page.locator("#export-button").click()
    link = page.locator("#export-file a").first
    expect(link).to_have_attribute("href", re.compile(r"\.onnx"), timeout=180_000)
    expect(page.locator("#export-report")).to_contain_text("max_abs_diff")
    with page.expect_download() as download:
        link.click()
    path = download.value.path()
    assert download.value.suggested_filename.endswith(".onnx")
    assert path.stat().st_size > 1_000_000
