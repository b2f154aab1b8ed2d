"""The pool's review queue in a real Chromium (issue 23): a pool added and pre-labelled, three
images reviewed with the keyboard (one accepted as suggested, one with a box drawn and saved, one
rejected), the page reloaded mid-review with the draft intact, then the reviewed images added as
ONE new version holding exactly what was decided."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from playwright.sync_api import Page, expect
from ui import pick

import yolov11
from pages.label_editor import shown_scale
from yolov11.data.demo import write_demo

from helpers import write_yolo_folder, zip_folder

pytestmark = pytest.mark.browser
NAME = "pool-hats"  # the e2e tests share one workspace: a name of this test's own


@pytest.fixture(scope="module")
def pooled(app_url, trained_run, tmp_path_factory) -> dict:
    """A dataset imported through /import_dataset, 6 new photos in its pool, pre-labelled by the
    shared trained model (the app's workspace has no run of its own)."""
    base = tmp_path_factory.mktemp("pool-review")
    src = zip_folder(write_yolo_folder(base / "src", n_images=8, size=160, seed=21), base / "src.zip")
    client = Client(app_url, verbose=False)
    client.predict(handle_file(str(src)), NAME, 0.25, api_name="/import_dataset")
    root = Path(client.predict(NAME, api_name="/dataset_versions")[0]["location"])
    ws = yolov11.Workspace.at(root.parents[1])
    write_demo(base / "footage", n_images=6, size=160, seed=33, val_fraction=0.0)
    assert yolov11.pool_add(NAME, [base / "footage" / "images"], workspace=ws)["added"] == 6
    yolov11.prelabel(NAME, weights=trained_run["weights"], workspace=ws)
    return {"workspace": ws, "root": root}


def _counter(page: Page):
    return page.locator("#review-counter")


def _draw(page: Page, fx0: float, fy0: float, fx1: float, fy1: float) -> None:
    """Draw a box on the review editor's canvas, between these fractions of the 160 px image it shows."""
    page.locator("#review-editor").get_by_label("Create box").first.click()
    canvas = page.locator("#review-editor canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    side = 160 * shown_scale(160, 160)
    scale = min(1.0, box["width"] / side)
    x, y, size = box["x"] + (box["width"] - side * scale) / 2, box["y"], side * scale
    page.mouse.move(x + size * fx0, y + size * fy0)
    page.mouse.down()
    page.mouse.move(x + size * (fx0 + fx1) / 2, y + size * (fy0 + fy1) / 2, steps=8)
    page.mouse.move(x + size * fx1, y + size * fy1, steps=8)
    page.mouse.up()


def test_review_three_with_the_keyboard_reload_and_add_them_as_a_version(page: Page, pooled):
    ws = pooled["workspace"]
    pick(page, "data-picker", NAME)
    page.get_by_text("Label new images: the dataset's unlabeled pool").click()
    page.locator("#review-start").click()
    expect(_counter(page)).to_contain_text("0 of 6 reviewed")
    expect(page.locator("#review-editor canvas").first).to_be_visible()
    queue = [i["id"] for i in yolov11.pool_queue(NAME, workspace=ws)["items"]]
    if os.environ.get("E2E_SCREENSHOTS"):  # the README's picture of the review
        page.wait_for_timeout(1000)
        page.locator("#pool-section").screenshot(path=str(Path(os.environ["E2E_SCREENSHOTS"]) / "pool-review.png"))

    _counter(page).click()  # the focus off any field: the keys act
    page.keyboard.press("a")  # 1: accepted as suggested
    expect(_counter(page)).to_contain_text("1 of 6 reviewed")
    page.wait_for_timeout(500)  # the next image on the canvas
    _draw(page, 0.3, 0.3, 0.6, 0.7)
    _counter(page).click()
    page.keyboard.press("s")  # 2: my edit (a box drawn) saved
    expect(_counter(page)).to_contain_text("2 of 6 reviewed")
    _counter(page).click()
    page.keyboard.press("r")  # 3: rejected
    expect(_counter(page)).to_contain_text("3 of 6 reviewed")

    page.reload()  # mid-review: the draft lives in the workspace's registry
    pick(page, "data-picker", NAME)
    page.get_by_text("Label new images: the dataset's unlabeled pool").click()
    page.locator("#review-start").click()
    expect(_counter(page)).to_contain_text("3 of 6 reviewed")
    expect(_counter(page)).to_contain_text("2 waiting to be added")

    draft = yolov11.pool_draft(NAME, workspace=ws)
    assert sorted(draft["items"]) == sorted(queue[:2]) and draft["drawn"] >= 1
    items = {i["id"]: i for i in yolov11.pool_items(NAME, workspace=ws)}
    assert items[queue[2]]["state"] == "rejected"
    edited = items[queue[1]]["draft"]["boxes"]
    assert any(abs(b["box"][0] - 48) < 4 and abs(b["box"][2] - 96) < 4 for b in edited)  # the box drawn, where it was drawn

    page.locator("#review-commit").click()
    expect(page.locator("#pool-message")).to_contain_text(f"Saved {NAME}@v2", timeout=30_000)
    version = ws.dataset(f"{NAME}@v2")
    assert version["parent"] == NAME
    new = Path(version["path"])
    first = (new / "labels" / "train" / f"pool-{queue[0]}.txt").read_text().splitlines()
    second = (new / "labels" / "train" / f"pool-{queue[1]}.txt").read_text().splitlines()
    assert len(first) == len(items[queue[0]]["draft"]["boxes"]) and len(second) == len(edited)
    assert not (new / "images" / "train" / f"pool-{queue[2]}.jpg").exists()
    assert yolov11.pool_draft(NAME, workspace=ws)["items"] == []
