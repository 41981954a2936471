"""Render an assessment's cards as terminal text or as accessible HTML (no ipywidgets needed).

The HTML is the one rendering every notebook front-end shows: cards ordered critical, warning, info;
each with a word and an inline SVG icon (never colour alone), the colours of ``mgdecision.palette``,
JupyterLab theme variables for light and dark themes, ``role="status"`` so screen readers announce
changes, and sources in a collapsible ``<details>``. The card details' light markup (``**bold**``,
```code```) becomes HTML tags in HTML and is dropped in terminal text.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from .kb import knowledge
from .palette import INDICATORS

if TYPE_CHECKING:
    from .assessment import Assessment
    from .models import Card

__all__ = ["CSS", "PALETTE", "TEXT_ON", "WORDS", "cards_html", "to_html", "to_text"]

PALETTE = {name: swatch.fill for name, swatch in INDICATORS.items()}  # card indicator -> fill
TEXT_ON = {name: swatch.text for name, swatch in INDICATORS.items()}  # WCAG AA text colour on that fill
WORDS = {"critical": "CRITICAL", "warning": "WARNING", "info": "INFO"}
_ICONS = {
    # octagon / triangle / circle with a glyph: shapes differ, so the icon reads without colour
    "critical": '<path d="M7 1h6l6 6v6l-6 6H7l-6-6V7z" fill="currentColor"/><path d="M6 9h8v2H6z" fill="#fff"/>',
    "warning": '<path d="M10 1l9 17H1z" fill="currentColor"/><path d="M9 7h2v6H9zm0 7h2v2H9z" fill="#000"/>',
    "info": '<circle cx="10" cy="10" r="9" fill="currentColor"/><path d="M9 8h2v7H9zm0-3h2v2H9z" fill="#fff"/>',
}

CSS = """
.mg-cards{font-family:var(--jp-ui-font-family,system-ui,sans-serif);color:var(--jp-ui-font-color1,#111);
  display:flex;flex-direction:column;gap:6px;max-width:72em}
.mg-card{border:1px solid var(--jp-border-color1,#bbb);border-left:8px solid var(--mg-c);border-radius:4px;
  padding:6px 10px;background:var(--jp-layout-color1,#fff);color:var(--jp-ui-font-color1,#111)}
.mg-card header{display:flex;align-items:center;gap:8px;font-weight:600}
.mg-badge{display:inline-flex;align-items:center;gap:4px;padding:1px 6px;border-radius:3px;
  background:var(--mg-c);color:var(--mg-t);font-size:0.85em;letter-spacing:0.04em}
.mg-badge svg{width:1em;height:1em;color:var(--mg-t)}
.mg-card ul{margin:4px 0 2px 1.2em;padding:0}
.mg-card details{margin-top:2px;font-size:0.9em}
.mg-card .mg-detail{margin:4px 0}
.mg-card code{font-family:var(--jp-code-font-family,monospace);font-size:0.9em;padding:0 3px;border-radius:2px;
  background:var(--jp-layout-color2,#eee);color:var(--jp-content-font-color1,#111)}
.mg-meta{font-size:0.8em;color:var(--jp-ui-font-color2,#555)}
"""


def _badge(indicator: str) -> str:
    return (
        f'<span class="mg-badge"><svg viewBox="0 0 20 20" aria-hidden="true" focusable="false">'
        f"{_ICONS[indicator]}</svg>{WORDS[indicator]}</span>"
    )


_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")


def _inline(text: str) -> str:
    """A line of the card's detail as HTML: escaped, its `code` and **bold** marks made tags."""
    escaped = html.escape(text)
    escaped = _CODE.sub(r"<code>\1</code>", escaped)
    return _BOLD.sub(r"<strong>\1</strong>", escaped)


def _plain(text: str) -> str:
    """A line of the card's detail as terminal text: the `code` and **bold** marks dropped."""
    return _BOLD.sub(r"\1", _CODE.sub(r"\1", text))


def _card_html(card: Card) -> str:
    e = html.escape
    lines = [ln[2:] for ln in card.detail.splitlines() if ln.startswith("- ")]
    other = "<br>".join(_inline(ln) for ln in card.detail.splitlines() if not ln.startswith("- "))
    items = "".join(f"<li>{_inline(ln)}</li>" for ln in lines)
    links = card.links or ((card.source_label, card.source_url),)
    listed = "".join(
        f'<li><a href="{e(url)}" target="_blank" rel="noopener">{e(label)}</a></li>' if url else f"<li>{e(label)}</li>"
        for label, url in links
    )
    source = f"<details><summary>Sources ({len(links)})</summary><ul>{listed}</ul></details>"
    return (
        f'<article class="mg-card" data-indicator="{card.indicator}" data-topic="{card.topic}" '
        f'style="--mg-c:{PALETTE[card.indicator]};--mg-t:{TEXT_ON[card.indicator]}">'
        f'<header>{_badge(card.indicator)}<span class="mg-summary">{e(card.summary)}</span></header>'
        + (f'<div class="mg-detail">{other}</div>' if other else "")  # already escaped by _inline
        + (f"<ul>{items}</ul>" if items else "")
        + source
        + "</article>"
    )


def cards_html(cards: tuple[Card, ...], title: str = "") -> str:
    """The card list as an HTML fragment with its style block."""
    heading = f'<div class="mg-meta">{html.escape(title)}</div>' if title else ""
    body = "".join(_card_html(c) for c in cards)
    return (
        f'<style>{CSS}</style><section class="mg-cards" role="status" aria-live="polite" '
        f'aria-label="magnesium flags">{heading}{body}</section>'
    )


def to_html(a: Assessment) -> str:
    title = (f"Patient {a.patient_id} · " if a.patient_id else "") + (
        f"knowledge {a.knowledge_version} · {knowledge().notice}"
    )
    return cards_html(a.cards, title)


def to_text(a: Assessment) -> str:
    lines = [f"Patient {a.patient_id}" if a.patient_id else "Patient (no id)"]
    for card in a.cards:
        lines.append(f"[{WORDS[card.indicator]}] {card.summary}")
        lines.extend(f"    {_plain(ln)}" for ln in card.detail.splitlines())
        lines.append("    sources: " + "; ".join(label for label, _ in (card.links or ((card.source_label, ""),))))
    lines.append(f"knowledge {a.knowledge_version}. {knowledge().notice}")
    return "\n".join(lines)
