"""A refused action in a real Chromium: the message stays where the user looks, in the app's words,
and the outputs keep what they showed (no red "Error" badge over them)."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect
from ui import wait_for_the_load

pytestmark = pytest.mark.browser




def error_badges(page: Page, elem_id: str) -> int:
    """Gradio's status-tracker "Error" badges shown on a component."""
    return page.locator(f"#{elem_id} .error").filter(has_text="Error").count()


def test_a_bad_upload_leaves_the_datasets_table_and_keeps_its_message(page: Page, tmp_path):
    table = page.locator("#datasets-table")
    cell = table.get_by_role("gridcell", name="demo-hardhat", exact=True)  # by role: the Dataframe keeps hidden rows for measuring
    expect(cell).to_be_visible()
    rows = table.get_by_role("row").filter(has=page.get_by_role("gridcell"))
    rows_before, deadline = -1, time.time() + 30
    while rows.count() != rows_before and time.time() < deadline:  # the page load refreshes the table: let it settle
        rows_before = rows.count()
        page.wait_for_timeout(1_500)
    assert rows_before >= 1

    fake = tmp_path / "site-photos.zip"
    fake.write_bytes(b"this is not a zip archive at all")
    page.locator("#dataset-upload input[type=file]").set_input_files(str(fake))  # a drop imports at once

    upload = page.locator("#dataset-upload")
    said = upload.locator("[data-testid=status-tracker]")
    expect(said).to_contain_text("not a readable zip archive", timeout=60_000)  # by the upload it is about
    message = said.inner_text()
    assert "site-photos.zip" in message, message
    assert "Traceback" not in message, message

    page.wait_for_timeout(6_000)  # a toast would have faded by now
    assert upload.locator("[data-testid=status-tracker]").inner_text() == message
    expect(upload.locator("[data-testid=status-tracker]")).to_be_visible()
    assert error_badges(page, "datasets-table") == 0
    assert error_badges(page, "import-summary") == 0
    expect(table).to_contain_text("demo-hardhat")
    expect(rows).to_have_count(rows_before)
    expect(cell).to_be_visible()


def test_bad_training_settings_are_said_by_their_fields(page: Page, app_url):
    page.get_by_role("tab", name="Train").click()
    wait_for_the_load(page, app_url)
    picker = page.locator("#train-dataset input")
    expect(picker).not_to_have_value("", timeout=30_000)  # the load (the newest run's dataset) or the tab's refresh picked one
    page.wait_for_timeout(1_000)
    picker.fill("no-such-dataset")  # typed, not in the workspace
    picker.press("Enter")
    expect(picker).to_have_value("no-such-dataset")
    epochs = page.locator("#train-epochs input")
    epochs.fill("0")
    page.locator("#start-button").click()
    # the field check runs in the queue, maybe behind the page load's own events
    expect(page.locator("#train-epochs")).to_contain_text("Epochs 0: must be a positive integer", timeout=30_000)
    assert "less than minimum" not in page.locator("#train-epochs").inner_text()

    epochs.fill("1")
    shown_run = page.locator("#train-run textarea, #train-run input").first.input_value()  # the newest run of earlier tests, or none
    page.locator("#start-button").click()
    dataset = page.locator("#train-dataset")
    expect(dataset).to_contain_text(re.compile(r"Dataset no-such-dataset: not in the workspace \(it has: .*demo-hardhat"), timeout=30_000)
    assert "--data" not in dataset.inner_text()
    assert error_badges(page, "train-run") == 0
    page.wait_for_timeout(2_000)
    expect(page.locator("#train-run textarea, #train-run input").first).to_have_value(shown_run)  # nothing started
