"""Fixing a suspicious label in a real Chromium, on the quick-preset run of the corrupted demo set
(shared with tests/test_label_issues.py): Find suspicious labels in the Evaluate tab, click the
top "missing" one in the gallery, and the box editor below opens its image with the model's box
pre-drawn in orange; saving it writes ``<name>@v2`` with exactly that box added. A row of the
table opens a wrong_class one, the label in question drawn red, on the version just written."""

from __future__ import annotations

import contextlib

import pytest
from playwright.sync_api import Page, expect
from ui import pick

import yolov11

from helpers import serving

pytestmark = pytest.mark.browser


@contextlib.contextmanager
def evaluate_tab(browser, ws: yolov11.Workspace):
    """The app served on ``ws`` in this process, its Evaluate tab open in a fresh context."""
    with serving(ws) as url:
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            page.goto(url)
            page.get_by_role("tab", name="Evaluate").click()
            yield page
        finally:
            context.close()


def _only_kind(page: Page, kind: str) -> None:
    """Filter the suspicious labels by ``kind`` and wait until the table (updated with the
    gallery, by one event) lists that kind alone."""
    pick(page, "issues-kind", kind)
    table = page.locator("#issues-table")
    expect(table.get_by_role("gridcell", name=kind, exact=True).first).to_be_visible()
    for other in yolov11.LABEL_ISSUE_KINDS:
        if other != kind:
            expect(table.get_by_role("gridcell", name=other, exact=True)).to_have_count(0)


def test_a_suspicious_label_opens_in_the_editor_and_its_fix_is_saved(browser, corrupted_run):
    ws, run, dataset = corrupted_run["ws"], corrupted_run["run"], corrupted_run["dataset"]
    with evaluate_tab(browser, ws) as page:
        pick(page, "eval-run", run)
        page.locator("#issues-button").click()
        expect(page.locator("#issues-summary")).to_contain_text("suspicious labels", timeout=180_000)
        issues = yolov11.saved_label_issues(run, "val", workspace=ws)["issues"]
        missing = next(i for i in issues if i["kind"] == "missing")
        wrong = next(i for i in issues if i["kind"] == "wrong_class")

        _only_kind(page, "missing")
        page.locator("#issues-gallery .thumbnail-item").first.click()
        message = page.locator("#issues-message")
        expect(message).to_contain_text(f"{missing['image']} of {dataset}:")
        expect(message).to_contain_text("1 suggested box(es) in orange")
        expect(message).to_contain_text(f"The model finds a {missing['suggested_class']}")
        before = yolov11.image_labels(dataset, missing["image"], workspace=ws)["boxes"]
        page.locator("#issues-save").click()  # the orange box kept: the suggestion accepted
        expect(page.locator("#issues-saved")).to_contain_text(f"Saved {dataset}@v2: 1 added, 0 removed, 0 changed", timeout=30_000)
        expect(page.locator("#issues-dataset textarea, #issues-dataset input").first).to_have_value(f"{dataset}@v2")

        _only_kind(page, "wrong_class")
        # the click waits while the table's redraw (the kind's filter: the gallery drawn again) is pending: slow on a busy machine
        (page.locator("#issues-table").get_by_role("row").filter(has=page.get_by_role("gridcell"))
         .first.get_by_role("gridcell").nth(2).click(timeout=180_000))
        expect(message).to_contain_text(f"{wrong['image']} of {dataset}@v2:")  # the next fix builds on the version just saved
        expect(message).to_contain_text(f"where the red box says {wrong['class']}")

    record = ws.dataset(f"{dataset}@v2")
    assert record["parent"] == dataset
    assert list(record["diff"]["images"]) == [missing["image"]]
    (added,) = record["diff"]["images"][missing["image"]]["added"]
    assert added["class"] == missing["suggested_class"]
    assert added["box"] == pytest.approx(missing["suggested_box"], abs=1.0)  # the editor hands back whole pixels
    after = yolov11.image_labels(f"{dataset}@v2", missing["image"], workspace=ws)["boxes"]
    assert len(after) == len(before) + 1
    assert yolov11.image_labels(dataset, missing["image"], workspace=ws)["boxes"] == before  # v1 as it was
