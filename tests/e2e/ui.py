"""What the browser tests do on the app's pages more than once."""

from __future__ import annotations

import re

from gradio_client import Client
from playwright.sync_api import Page, expect


def open_tab(page: Page, name: str) -> None:
    """Open the tab (of the app's tabs, or a view's) named ``name`` exactly."""
    page.get_by_role("tab", name=name, exact=True).click()


def pick(page: Page, elem_id: str, value: str) -> None:
    """Choose ``value`` in the dropdown ``elem_id`` as a user does: open it, click the option."""
    box = page.locator(f"#{elem_id} input")
    box.click()
    page.get_by_role("option", name=value, exact=True).click()
    expect(box).to_have_value(value)


def wait_for_the_load(page: Page, app_url: str) -> None:
    """The page load fills the Train form from the newest run of earlier tests, if any (one
    event sets the run box and the form): wait for it, or it may overwrite what a test types."""
    if Client(app_url, verbose=False).predict(api_name="/list_runs"):
        expect(page.locator("#train-run textarea, #train-run input").first).to_have_value(re.compile(r"\S"), timeout=60_000)
