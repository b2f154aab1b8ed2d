"""A real app.py process (behind the network guard) and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from helpers import ROOT, start_app, wait_serving, write_yolo_folder, zip_folder

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Playwright's `expect` waits 5 s by default (page.set_default_timeout does not reach it); the page's load events queue
# behind each other and a busy CI host runs them 3-4x slower (CI once saw the health summary still "processing" at 3.9 s).
# A passing assertion returns as soon as it holds, so only a failure waits this long.
EXPECT_TIMEOUT_MS = 30_000
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-quic"]


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """python app.py on a free port with a fresh workspace, as `make run` starts it."""
    ws = tmp_path_factory.mktemp("e2e") / "workspace"
    env = {**os.environ, "YOLOV11_WORKSPACE": str(ws), "HF_HUB_OFFLINE": "", "HF_HUB_DISABLE_TELEMETRY": ""}
    env = {k: v for k, v in env.items() if v != ""}  # the app must switch telemetry off by itself
    proc, url = start_app(env, ROOT, ws.parent / "app.log")
    wait_serving(proc, url, ws.parent / "app.log")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium (apt-get install -y chromium)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app_url)
    yield page
    shots = os.environ.get("E2E_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(shots) / f"{time.strftime('%H%M%S')}-end.png"), full_page=True)
    context.close()


@pytest.fixture(scope="session")
def upload_zip(tmp_path_factory) -> Path:
    """A 60-image zip: big enough that one epoch lasts several chart refreshes."""
    base = tmp_path_factory.mktemp("upload")
    return zip_folder(write_yolo_folder(base / "site-photos", n_images=60, size=96, seed=5), base / "site-photos.zip")
