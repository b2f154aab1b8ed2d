"""Strings from a user's data shown as text, on each surface that would otherwise read markup.

Class, dataset, run, file and published names, report lines and the messages that quote them
come from people's files: a data.yaml whose class name is ``<div style="position:fixed;...">``
or ``[Session expired](http://...)`` must show those characters, not an overlay or a link. Each
surface of the pages reads markup differently, so each has its own escape, used wherever a user
string meets it:

- ``md_text``: a ``gr.Markdown`` (Markdown with raw HTML; Gradio's sanitizer stops scripts, not
  links, images or styles; ``$$`` would be a formula).
- ``html_text``: a toast (``gr.Error``, ``gr.Warning``, ``gr.Info``: HTML, no Markdown).
- ``plot_text``: a plotly label, legend, tick or hover text (a subset of HTML: ``<a href>``,
  ``<b>``, ``<br>``, ``<span style>``).
- ``fenced``: text (code, a report) as a Markdown code block nothing inside can end;
  ``md_code``: the same inline (a path in a sentence).

Shown as text already, nothing to escape: gr.Dataframe cells and headers, gr.Dropdown choices,
gr.Textbox and gr.Code values, gr.JSON, a component's label and info, gallery captions, the
message a field shows (``gr.validate``), the box editor's labels.
"""

from __future__ import annotations

import html
import re

# What can start markup inside a line of Markdown (CommonMark, GitHub's extensions as Gradio's
# renderer reads them, Gradio's formulas): emphasis, code, links and images, HTML and entities,
# strikethrough, tables, "$$", and what makes a bare address a link: "://" after a scheme, "www."
# and "a@b.c" (the ":" before "/", the "." after "www" and the "@" escaped break each). At the start
# of the text, what starts a line's markup: a list item ("-", "+", "1." or "1)"), a heading ("#") or
# its underline ("="). Other punctuation is markup nowhere and stays as written, so a sentence of
# ours read through a client ("the file ends early: 30 of 50 frames") carries no backslashes.
_MARKUP = re.compile(r"[\\`*_\[\]<>!&~|$@]|:(?=/)|(?<=www)\.", re.IGNORECASE)
_LINE_START = re.compile(r"[-+=#]|\d+(?=[.)])")


def md_text(text: object) -> str:
    """``text`` as Markdown that shows it as written, on one line: each character that can start
    markup backslash-escaped (CommonMark's escape), so ``<annotation>`` stays text instead of an
    HTML tag, ``_`` makes no emphasis, ``$$`` no formula, ``www.x.com`` no link, and a start that
    could begin a line's markup ("- ", "# ", "1. ") none; line breaks become spaces (one item stays
    one line). A hyphen, a colon or a full stop inside the text stays as it is (``site-a``)."""
    flat = " ".join(str(text).split())
    escaped = _MARKUP.sub(r"\\\g<0>", flat)
    start = _LINE_START.match(escaped)
    if start is None:
        return escaped
    if start.group().isdigit():  # "1." or "1)": the mark after the number escaped
        return f"{start.group()}\\{escaped[start.end():]}"
    return "\\" + escaped


def html_text(text: object) -> str:
    """``text`` for a toast, which Gradio renders as HTML: ``<``, ``>``, ``&`` and quotes escaped."""
    return html.escape(str(text))


def plot_text(text: object) -> str:
    """``text`` for a plotly label that shows as written: plotly draws a subset of HTML in titles,
    ticks, legends and hover text (``<a href=...>`` a live link, ``<b>``, ``<br>``), and reads
    entities back, so ``<`` ``>`` ``&`` escaped show as themselves."""
    return html.escape(str(text), quote=False)


def fenced(text: str, language: str = "") -> str:
    """``text`` in a Markdown code block, shown as written: the fence is longer than any run of
    backticks inside it, so nothing quoted (a file name with ```` ``` ```` and a line break, which a
    shell word may hold) can end the block early."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"{fence}{language}\n{text}\n{fence}"


def md_code(text: object) -> str:
    """``text`` as an inline Markdown code span, shown as written on one line: the backticks around
    it outnumber any run of backticks inside."""
    flat = " ".join(str(text).split())
    tick = "`" * (1 + max((len(run) for run in re.findall(r"`+", flat)), default=0))
    return f"{tick} {flat} {tick}"
