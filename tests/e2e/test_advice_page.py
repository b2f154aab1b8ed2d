""""What to fix next" in a real Chromium, on the quick-preset run of the corrupted demo set: the
Evaluate tab ranks the actions with fixing the suspicious labels first (see test_advice); "Do it" on it
lists the run's suspicious val labels in the section below (most suspicious first, the images the
advice named among them) and says where the fix is made."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from test_label_issue_fix import evaluate_tab
from ui import pick

import yolov11

pytestmark = pytest.mark.browser


def test_fix_labels_opens_the_suspicious_labels_it_names(browser, corrupted_run):
    ws, run = corrupted_run["ws"], corrupted_run["run"]
    with evaluate_tab(browser, ws) as page:
        pick(page, "eval-run", run)
        page.locator("#advice-button").click()
        table = page.locator("#advice-table")
        expect(table.get_by_role("gridcell", name="fix_labels", exact=True)).to_be_visible(timeout=240_000)
        advice = yolov11.saved_advice(run, "val", workspace=ws)
        top = advice["actions"][0]
        assert top["kind"] == "fix_labels", [(a["kind"], a["expected_gain"]) for a in advice["actions"]]
        expect(page.locator("#advice-summary")).to_contain_text(top["title"])
        page.locator("#advice-do").click()
        expect(page.locator("#advice-note")).to_contain_text("Evaluate → Suspicious labels")
        expect(page.locator("#advice-note")).to_contain_text(top["command"])
        issues = yolov11.saved_label_issues(run, "val", workspace=ws)["issues"]
        expect(page.locator("#issues-summary")).to_contain_text(f"{len(issues)} suspicious labels")
        listed = page.locator("#issues-table")
        expect(listed.get_by_role("gridcell", name=issues[0]["image"], exact=True).first).to_be_visible()  # most suspicious first
        for image in top["evidence"]["images"][:2]:  # the images the advice named are listed
            expect(listed.get_by_role("gridcell", name=image, exact=True).first).to_be_attached()
        expect(page.locator("#issues-gallery .thumbnail-item").first).to_be_visible()


def test_do_it_on_more_data_opens_the_data_tab_on_the_runs_dataset_and_its_pool(browser, starved_run):
    """The run whose train split has about 10 "head" boxes: the top action is more_data, and Do it
    opens the Data tab with the run's dataset picked and its "Label new images" section open."""
    ws, run = starved_run["ws"], starved_run["run"]
    dataset = ws.run(run)["dataset"]
    with evaluate_tab(browser, ws) as page:
        pick(page, "eval-run", run)
        page.locator("#advice-button").click()
        expect(page.locator("#advice-table").get_by_role("gridcell", name="more_data", exact=True)).to_be_visible(timeout=240_000)
        assert yolov11.saved_advice(run, "val", workspace=ws)["actions"][0]["kind"] == "more_data"
        expect(page.locator("#pool-add")).to_be_hidden()  # the Data tab is not open yet
        page.locator("#advice-do").click()
        expect(page.get_by_role("tab", name="Data")).to_have_attribute("aria-selected", "true")
        expect(page.locator("#data-picker input")).to_have_value(dataset)
        expect(page.locator("#pool-add")).to_be_visible()  # its pool section, open
        expect(page.locator("#versions-table")).to_contain_text(dataset)  # the Data tab now shows that dataset
