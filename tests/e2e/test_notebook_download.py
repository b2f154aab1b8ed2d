"""Download as notebook, in a real Chromium: a run's .ipynb comes down through the Train tab's
runs section and is a valid notebook of that run's steps."""

from __future__ import annotations

import re
import time

import nbformat
import pytest
from gradio_client import Client, handle_file
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def _finished_run(app_url: str, upload_zip) -> str:
    client = Client(app_url, verbose=False)
    name = client.predict(handle_file(str(upload_zip)), "nb-hats", 0.25, False, api_name="/import_dataset")[2]["name"]
    run, _, _ = client.predict(name, "yolov11n", 1, 64, 4, "cpu", None, api_name="/start_training")
    deadline = time.time() + 300
    while (status := client.predict(run, api_name="/training_status"))["status"] not in ("done", "failed", "stopped"):
        assert time.time() < deadline, status
        time.sleep(0.5)
    assert status["status"] == "done", status
    return run


def test_download_a_runs_notebook(page: Page, app_url, upload_zip):
    run = _finished_run(app_url, upload_zip)
    page.reload()  # the run pickers fill on load
    page.get_by_role("tab", name="Train").click()
    page.get_by_text("Runs: history, compare, delete").click()
    box = page.locator("#notebook-run input")
    box.fill(run)
    box.press("Enter")
    page.locator("#notebook-button").click()
    link = page.locator("#notebook-file a").first
    expect(link).to_have_attribute("href", re.compile(r"\.ipynb"), timeout=60_000)
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == f"{run}.ipynb"
    nb = nbformat.read(str(download.value.path()), as_version=4)
    nbformat.validate(nb)
    assert run in nb.cells[0].source
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "yolov11.import_dataset(" in code
    assert "yolov11.train(" in code
    assert "epochs=1" in code
