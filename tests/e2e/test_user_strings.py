"""Issue 21 item 1: every string from a user's data is shown as text, on every page.

A dataset whose class names and image file names are HTML and Markdown (a full-page overlay, an
image from another host, a phishing link, a Markdown link, a bare address) is imported, trained on
(a tiny run), then in Chromium: evaluated, searched for suspicious labels (one opened in the box
editor), exported, predicted on, published, and /demo visited, each tab with the sections that
show those strings open. No element made of them may exist in the page, they must be readable as
text, and the page may ask no other host for anything. Also: a field's message quoting hostile
names (a toast's escaping, whose path the pages reach without a field, is in
tests/test_app_messages.py), and items 16 and 20 where they show: the worst-images and Predict
galleries show whole images, an empty gallery says why, the import summary wraps its long lines."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from playwright.sync_api import Page, expect
from ui import open_tab, pick

import yolov11

from helpers import serving, zip_folder

pytestmark = pytest.mark.browser

# Class names: an overlay over the whole page (with a bare address, which GitHub-style Markdown makes
# a link), an image fetched from another host, a phishing link holding a Markdown link.
OVERLAY = '<div id="pwn-overlay" style="position:fixed;inset:0;background:red">Session expired: sign in again at www.evil.example</div>'
REMOTE_IMAGE = '<img id="pwn-img" src="http://other-host.invalid/x.png">'
PHISHING = '<a id="pwn-link" href="http://evil.example/login">[Session expired](http://evil.example)</a> **bold**'
CLASSES = [OVERLAY, REMOTE_IMAGE, PHISHING]
# Image file names (no "/" in a file name): an element with an id, a Markdown link, code and a formula.
# ("$$" in a class name breaks Ultralytics' matplotlib plots, so training and Evaluate: reported, not tested here.)
FILES = ["<img src=x id=pwn-file onerror=alert(1)>", "<u id=pwn-file2>x", "[Session expired](https:evil.example) `tick` $$x$$"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

# What the hostile strings would make, were they rendered as markup: elements with their ids,
# links or images to another host (an <a> of plotly's SVG too), links named "Session expired",
# inline styles of the overlay.
INJECTED = """() => {
    const local = new Set(%s);
    const host = (v) => { try { return new URL(v, location.href).hostname; } catch (e) { return ""; } };
    const where = (e) => { for (let p = e; p; p = p.parentElement) if (p.id && !p.id.startsWith("pwn")) return "#" + p.id; return "?"; };
    const out = [];
    for (const e of document.querySelectorAll("[id^=pwn]")) out.push(`${e.tagName}#${e.id} in ${where(e.parentElement)}`);
    for (const e of document.querySelectorAll("a")) {
        if (e.closest(".modebar")) continue;  // plotly's own "Produced with Plotly" link
        const href = e.getAttribute("href") || e.getAttribute("xlink:href") || "";
        if ((href && !local.has(host(href))) || /Session expired/.test(e.textContent)) out.push(`link ${href} in ${where(e)}`);
    }
    for (const e of document.querySelectorAll("img, image, source")) {
        const src = e.getAttribute("src") || e.getAttribute("href") || "";
        if (src && !/^(data|blob):/.test(src) && !local.has(host(src))) out.push(`image ${src} in ${where(e)}`);
    }
    for (const e of document.querySelectorAll("[style*=inset], [style*='background:red'], [style*='background: red']")) {
        out.push(`styled ${e.tagName} in ${where(e)}`);
    }
    return out;
}""" % sorted(LOCAL_HOSTS | {"[::1]"})  # the browser writes an IPv6 host in brackets


def _write_dataset(dest: Path) -> Path:
    """A 16-image YOLO folder (the demo generator's) with hostile class names and, in each split,
    three images renamed to hostile file names."""
    from yolov11.data.demo import write_demo

    data_yaml = write_demo(dest, n_images=16, size=64, seed=3, val_fraction=0.25)
    data = yaml.safe_load(data_yaml.read_text())
    data["names"] = dict(enumerate(CLASSES))
    data_yaml.write_text(yaml.safe_dump(data))
    for split in ("train", "val"):
        for name, image in zip(FILES, sorted((dest / "images" / split).glob("*.jpg"))):
            new = f"{name}{split}.jpg"
            image.rename(image.with_name(new))
            label = dest / "labels" / split / f"{image.stem}.txt"
            label.rename(label.with_name(f"{Path(new).stem}.txt"))
    return dest


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory):
    """The app on a workspace holding the hostile dataset, a tiny run trained on it (1 epoch at
    32 px: what it finds does not matter here) and that run published (its default name: the run
    id, so /demo's title is made of the class names); yields (url, workspace, zip, run, photos)."""
    base = tmp_path_factory.mktemp("user-strings")
    source = _write_dataset(base / "hostile")
    archive = zip_folder(source, base / "hostile.zip")
    ws = yolov11.Workspace.at(base / "ws")
    report = yolov11.import_dataset(archive, workspace=ws)
    assert report["classes"] == CLASSES  # kept as written: the page must show them so
    run = yolov11.train(report["name"], "yolov11n", epochs=1, imgsz=32, batch=4, workers=0, plots=False, workspace=ws)
    assert run["status"] == "done", run
    yolov11.publish(run=run["run"], workspace=ws)
    # Photos to predict on, named as a user may name them (Gradio's upload drops <>:"/\|?*`$!{} from names)
    val = sorted((Path(report["path"]) / "images" / "val").glob("site_*.jpg"))
    photos = [shutil.copy(val[0], base / "[Session expired](evil.example) & co.jpg"), shutil.copy(val[-1], base / "#photo *two*.jpg")]
    with serving(ws) as url:
        yield url, ws, archive, run["run"], [Path(p) for p in photos]


@pytest.fixture
def hostile_page(browser, hostile_app):
    """A page of the hostile app that may ask only this machine for anything: every other
    request is recorded (``page.foreign``) and refused."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.foreign = []

    def outside(url: str) -> bool:
        parsed = urlparse(url)
        return parsed.scheme in ("http", "https", "ws", "wss") and parsed.hostname not in LOCAL_HOSTS

    page.on("request", lambda r: page.foreign.append(r.url) if outside(r.url) else None)
    context.route(outside, lambda route: route.abort())
    yield page
    context.close()


def injected(page: Page) -> list[str]:
    return page.evaluate(INJECTED)


def shown_text(page: Page, selector: str) -> str:
    """All the text under ``selector`` (the SVG text of plotly's charts too)."""
    return " ".join(page.locator(selector).evaluate_all("els => els.map(e => e.textContent)"))


class Findings:
    """What each step found wrong, gathered so that one run names every place: elements made
    of a hostile string, and strings not readable as text where they should be."""

    def __init__(self, page: Page):
        self.page, self.injected, self.not_shown, self.layout, self._seen = page, {}, {}, {}, set()

    def check(self, step: str, selector: str, *strings: str, wait: bool = False) -> None:
        """Record what ``step`` made of the hostile strings, and which of ``strings`` the text under
        ``selector`` lacks (``wait``: give it a few seconds to arrive, a table drawing its rows)."""
        if wait:
            for s in strings:
                with contextlib.suppress(AssertionError):
                    expect(self.page.locator(selector).first).to_contain_text(s, timeout=10_000)
        text = shown_text(self.page, selector)
        missing = [s for s in strings if s not in text]
        if missing:
            self.not_shown[f"{step}: {selector}"] = missing
        new = [e for e in injected(self.page) if e not in self._seen]  # each element reported once, at the step that made it
        self._seen.update(new)
        if new:
            self.injected[step] = new


def test_hostile_names_are_text_on_every_page(hostile_page: Page, hostile_app):
    url, ws, archive, run, photos = hostile_app
    page = hostile_page
    found = Findings(page)
    page.goto(url)
    image_names = [f"{name}{split}.jpg" for name in FILES for split in ("train", "val")]

    # Data: the health view of the hostile set (the newest dataset is picked), its charts and gallery.
    expect(page.locator("#health-summary")).to_contain_text("hostile", timeout=30_000)
    expect(page.locator("#data-picker input")).to_have_value("hostile")
    gallery = page.locator("#dataset-gallery")
    expect(gallery.locator("img").first).to_be_visible(timeout=30_000)
    for tab in ("Box sizes", "Boxes per image", "Box centres", "Class counts"):
        open_tab(page, tab)
    expect(page.locator(".js-plotly-plot").filter(has_text="boxes per class and split")).to_be_visible()
    found.check("health charts", ".js-plotly-plot", *CLASSES, wait=True)
    found.check("health gallery", "#dataset-gallery", image_names[0], wait=True)

    # The label editor, opened from the gallery: its message names the image (a hostile file name first).
    gallery.locator(".thumbnail-item").first.click()
    expect(page.locator("#label-message")).to_contain_text(re.compile(r"of hostile: \d+ box"), timeout=30_000)
    found.check("label editor", "#label-message", image_names[0])

    # A field's message quoting hostile names: an image name typed that the dataset lacks (the
    # message quotes the dataset's first image as an example).
    typed = page.locator("#label-image input")
    typed.fill("<b id=pwn-typed>nope.jpg")
    typed.press("Enter")
    said = page.locator("#data-picker [data-testid=status-tracker]")
    expect(said).to_contain_text("not an image of dataset hostile", timeout=30_000)
    found.check("field message", "#data-picker [data-testid=status-tracker]", "<b id=pwn-typed>nope.jpg", "images/train/" + image_names[0])

    # The zip dropped again: the import summary (a code block) shows the names, long lines wrapped (item 20).
    page.locator("#dataset-upload input[type=file]").set_input_files(str(archive))
    summary = page.locator("#import-summary")
    expect(summary).to_contain_text("dataset hostile-2", timeout=60_000)
    found.check("import summary", "#import-summary", *CLASSES)
    overflow = summary.locator("pre").first.evaluate("e => e.scrollWidth - e.clientWidth")
    if overflow > 1:
        found.layout["import summary cut at the right edge by (px)"] = overflow

    # Train: the runs table.
    open_tab(page, "Train")
    page.get_by_text("Runs: history, compare, delete").click()
    expect(page.locator("#runs-table")).to_contain_text(run)
    found.check("train", "#runs-table", "hostile")

    # Evaluate: tables, charts, worst images; suspicious labels, one opened in the editor.
    open_tab(page, "Evaluate")
    expect(page.locator("#eval-run input")).to_have_value(run)
    page.locator("#evaluate-button").click()
    expect(page.locator("#eval-table").get_by_role("gridcell", name="all", exact=True)).to_be_visible(timeout=60_000)
    expect(page.locator("#eval-confusion .js-plotly-plot")).to_be_visible(timeout=30_000)
    worst = page.locator("#eval-gallery")
    # An untrained model finds nothing, so "most FP" draws no image: the gallery says why (item 20).
    try:
        expect(worst).to_contain_text("no image", timeout=15_000)
    except AssertionError:
        found.layout["an empty worst-images gallery says why"] = False
    pick(page, "gallery-criterion", "most FN")
    expect(worst.locator(".thumbnail-item img").first).to_be_visible(timeout=30_000)
    found.check("evaluate tables", "#eval-table", *CLASSES, wait=True)
    for chart in ("#eval-per-class", "#eval-pr", "#eval-f1", "#eval-confusion"):
        found.check("evaluate charts", chart, *CLASSES, wait=True)
    found.check("worst images", "#eval-gallery", "val.jpg")
    tile = worst.locator(".thumbnail-item img").first
    found.layout["worst images fit"] = tile.evaluate("img => getComputedStyle(img).objectFit")  # item 16: whole images
    page.locator("#issues-button").click()
    expect(page.locator("#issues-summary")).to_contain_text("suspicious labels", timeout=60_000)
    issue = yolov11.saved_label_issues(run, "val", workspace=ws)["issues"][0]  # the table's first row, the gallery's first drawing
    found.check("suspicious labels", "#issues-table", issue["class"], wait=True)
    page.locator("#issues-gallery .thumbnail-item").first.click()
    hint = page.locator("#issues-message")
    expect(hint).to_contain_text("of hostile", timeout=30_000)
    found.check("suspicious label in the editor", "#issues-message", issue["image"], issue["class"])  # "... the red <class> box"

    # Export: a quick ONNX, verified.
    open_tab(page, "Export")
    expect(page.locator("#export-run input")).to_have_value(run)
    page.locator("#export-button").click()
    expect(page.locator("#export-file a").first).to_have_attribute("href", re.compile(r"\.onnx"), timeout=60_000)
    found.check("export", "#export-checks")

    # Predict two photos (a gallery of both), then publish: the note lists the class names; a toast names the model.
    open_tab(page, "Predict")
    expect(page.locator("#predict-run input")).to_have_value(run)
    page.locator("#predict-image input[type=file]").set_input_files(str(photos[0]))
    page.locator("#predict-photos input[type=file]").set_input_files(str(photos[1]))
    page.locator("#predict-button").click()
    shown = page.locator("#predict-gallery")
    expect(shown).to_contain_text("[Session expired](evil.example) & co.jpg: 0 found", timeout=60_000)
    expect(page.locator("#predict-table")).to_contain_text("confidence")
    found.check("predict", "#predict-gallery")
    galleries = page.evaluate("() => Object.fromEntries(window.gradio_config.components.filter(c => c.type === 'gallery')"
                              ".map(c => [c.props.elem_id, [c.props.object_fit, c.props.fit_columns]]))")
    found.layout.update({f"{g} (object_fit, fit_columns)": galleries.get(g) for g in ("eval-gallery", "predict-gallery")})
    page.get_by_text("Share on the /demo page").click()
    page.locator("#publish-button").click()
    expect(page.locator("#publish-note")).to_contain_text("Published", timeout=30_000)
    found.check("publish", "#publish-note", *CLASSES)
    toast = page.locator(".toast-body").filter(has_text="finds almost nothing")
    expect(toast).to_contain_text(f"Published {run}, but the model finds almost nothing", timeout=15_000)
    found.check("publish toast", ".toast-body")

    # /demo: the header (title and classes), a photo dropped.
    page.goto(url + "demo")
    expect(page.locator("#demo-model")).to_contain_text("Finds", timeout=30_000)
    found.check("/demo", "#demo-model", f"{OVERLAY}, {REMOTE_IMAGE} and {PHISHING} detector")
    expect(page).to_have_title(f"{OVERLAY}, {REMOTE_IMAGE} and {PHISHING} detector")  # the browser tab's title: text too
    page.locator("#demo-image input[type=file]").set_input_files(str(photos[0]))
    expect(page.locator("#demo-summary")).to_contain_text(re.compile(r"Found|Nothing found"), timeout=60_000)
    found.check("/demo result", "#demo-summary")

    whole = ["contain", False]  # item 16: (object_fit, fit_columns)
    expected = {"worst images fit": "contain", **{f"{g} (object_fit, fit_columns)": whole for g in ("eval-gallery", "predict-gallery")}}
    problems = {
        "layout": {k: v for k, v in found.layout.items() if v != expected.get(k)},
        "elements made of user strings": found.injected,
        "user strings not shown as text": found.not_shown,
        "requests to other hosts": page.foreign,
    }
    assert not any(problems.values()), json.dumps(problems, indent=1)
