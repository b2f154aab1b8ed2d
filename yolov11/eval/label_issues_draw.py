"""Label issues drawn for people: the label (left) and the model's suggestion (right), side by side,
each a crop around the two boxes scaled to one height."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from PIL import Image

from yolov11.compat import offline
from yolov11.compat.plotting import draw_boxes
from yolov11.data.preview import _to_rgb
from yolov11.errors import UserError

PANEL_HEIGHT = 220
MARGIN = 1.0  # the crop reaches this many box sizes around the boxes
LABEL_COLOR, SUGGESTION_COLOR = (40, 40, 230), (40, 170, 40)  # BGR: red, green
WORDS = {
    "missing": "no label here",
    "spurious": "the model sees nothing here",
    "wrong_class": "another class",
    "badly_located": "box off the object",
}


def _crop(width: int, height: int, boxes: list[list[float]]) -> tuple[int, int, int, int]:
    x1, y1 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x2, y2 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    pad = MARGIN * max(x2 - x1, y2 - y1, 24)
    return max(0, int(x1 - pad)), max(0, int(y1 - pad)), min(width, int(x2 + pad + 1)), min(height, int(y2 + pad + 1))


def _panel(rgb: Image.Image, crop: tuple, box: list | None, text: str, color: tuple, names: str, dest: Path) -> Image.Image:
    x0, y0 = crop[0], crop[1]
    boxes = [([box[0] - x0, box[1] - y0, box[2] - x0, box[3] - y0], text, color)] if box else []
    part = rgb.crop(crop)
    scale = PANEL_HEIGHT / max(1, part.height)
    part = part.resize((max(1, round(part.width * scale)), PANEL_HEIGHT))
    boxes = [([v * scale for v in b], t, c) for b, t, c in boxes]
    draw_boxes(part, boxes, dest, example=names, line_width=2)
    with Image.open(dest) as im:
        return im.convert("RGB")


def draw_label_issues(issues: list[dict], dataset_dir: str | Path, out_dir: str | Path, limit: int = 24) -> list[tuple[str, str]]:
    """The first ``limit`` issues (as ``label_issues`` lists them) drawn as (jpeg path, caption):
    left the label as it is, right what the model suggests. Files are named by the issue's
    content, so a filtered list reuses the drawings of the full one."""
    offline.prepare()  # Annotator may load a font: the local one, never a download
    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    (out_dir / "parts").mkdir(parents=True, exist_ok=True)
    names = json.dumps(sorted({str(i[k]) for i in issues for k in ("class", "suggested_class") if i[k]}))
    results = []
    for issue in issues[:limit]:
        key = hashlib.sha1(json.dumps(issue, sort_keys=True).encode()).hexdigest()[:12]
        dest = out_dir / f"{key}.jpg"
        caption = f"{issue['score']:.2f} {issue['kind']}: {Path(issue['image']).name} · {WORDS[issue['kind']]}"
        if not dest.is_file():
            path = dataset_dir / issue["image"]
            if not path.is_file():
                raise UserError(f"{issue['image']}: image not found in {dataset_dir} (deleted since the label issues were found?)")
            with Image.open(path) as src:
                rgb = _to_rgb(src)
            crop = _crop(rgb.width, rgb.height, [b for b in (issue["box"], issue["suggested_box"]) if b])
            left = _panel(
                rgb, crop, issue["box"], f"label: {issue['class']}" if issue["box"] else "", LABEL_COLOR, names,
                out_dir / "parts" / f"{key}-a.jpg",
            )
            right_class = issue["suggested_class"] or issue["class"]
            right = _panel(
                rgb, crop, issue["suggested_box"] or (issue["box"] if issue["suggested_class"] else None), f"model: {right_class}",
                SUGGESTION_COLOR, names, out_dir / "parts" / f"{key}-b.jpg",
            )
            gap = 8
            joined = Image.new("RGB", (left.width + gap + right.width, PANEL_HEIGHT), "white")
            joined.paste(left, (0, 0))
            joined.paste(right, (left.width + gap, 0))
            joined.save(dest, quality=90)
        results.append((str(dest), caption))
    return results
