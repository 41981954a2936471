"""A small document model rendered as GitHub-flavoured Markdown or as one standalone, print-friendly HTML page.

    doc = Document("Title", (Para(("Text with ", Code("x < 1"), ".")), Heading(2, "Part"), Table(...)))
    doc.markdown(), doc.html()

Blocks: :class:`Heading`, :class:`Para`, :class:`Bullets`, :class:`Table`; inline: text, :class:`Code`,
:class:`Link` and :class:`Cite` (source labels, linked to the source list in HTML). Both renderings escape every
text, so that what a document quotes is shown and never read as markup; both list the headings of levels 2 and
3 as a table of contents, with the same anchors. The output depends on the document alone (byte-identical for
the same document).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["Block", "Bullets", "Cite", "Code", "Document", "Heading", "Inline", "Line", "Link", "Para", "Table",
           "source_anchor"]


@dataclass(frozen=True, slots=True)
class Code:
    """Text quoted as written (a condition, an id, a word the reader looks for)."""

    text: str


@dataclass(frozen=True, slots=True)
class Link:
    text: str
    url: str


@dataclass(frozen=True, slots=True)
class Cite:
    """Sources by their labels, in order: (source id, label) pairs."""

    refs: tuple[tuple[str, str], ...]


Inline: TypeAlias = str | Code | Link | Cite
Line: TypeAlias = tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Heading:
    level: int  # 2 to 4 (the document's title is level 1)
    text: str


@dataclass(frozen=True, slots=True)
class Para:
    line: Line


@dataclass(frozen=True, slots=True)
class Bullets:
    items: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class Table:
    """Rows of cells; a cell is lines of inline content. ``ids``: an anchor per row (HTML only), or none."""

    header: tuple[str, ...]
    rows: tuple[tuple[tuple[Line, ...], ...], ...]
    ids: tuple[str, ...] = ()


Block: TypeAlias = Heading | Para | Bullets | Table


def source_anchor(source_id: str) -> str:
    return f"source-{_slug(source_id)}"


def _slug(text: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def _anchors(blocks: Iterable[Block]) -> dict[int, str]:
    """Anchor of each heading (by its index), made unique as GitHub does ("-1", "-2" after a repeat)."""
    seen: dict[str, int] = {}
    out = {}
    for k, block in enumerate(blocks):
        if isinstance(block, Heading):
            base = _slug(block.text)
            n = seen.get(base, 0)
            seen[base] = n + 1
            out[k] = base if n == 0 else f"{base}-{n}"
    return out


@dataclass(frozen=True)
class Document:
    """A title, the blocks before the first level-2 heading (the preamble), then the table of contents, then
    the rest."""

    title: str
    blocks: tuple[Block, ...]
    toc_title: str = "Contents"

    def _split(self) -> int:
        return next((k for k, b in enumerate(self.blocks) if isinstance(b, Heading) and b.level == 2),
                    len(self.blocks))

    def _toc(self) -> list[tuple[int, str, str]]:
        anchors = _anchors(self.blocks)
        return [(b.level, b.text, anchors[k]) for k, b in enumerate(self.blocks)
                if isinstance(b, Heading) and b.level <= 3]

    # ------------------------------------------------------------------ Markdown

    def markdown(self) -> str:
        out = [_md_block(Heading(1, self.title)), ""]
        split = self._split()
        for block in self.blocks[:split]:
            out += [_md_block(block), ""]
        out += [f"## {_md_text(self.toc_title)}", ""]
        out += [f"{'  ' * (level - 2)}- [{_md_text(text)}](#{anchor})" for level, text, anchor in self._toc()]
        out.append("")
        for block in self.blocks[split:]:
            out += [_md_block(block), ""]
        return "\n".join(out).rstrip("\n") + "\n"

    # ------------------------------------------------------------------ HTML

    def html(self) -> str:
        anchors = _anchors(self.blocks)
        split = self._split()
        body = [f"<h1>{_h(self.title)}</h1>"]
        body += [_html_block(b, anchors.get(k)) for k, b in enumerate(self.blocks[:split])]
        body.append(f'<nav class="toc" aria-labelledby="toc"><h2 id="toc">{_h(self.toc_title)}</h2>')
        body.append(_html_toc(self._toc()))
        body.append("</nav>")
        body += [_html_block(b, anchors.get(k)) for k, b in enumerate(self.blocks) if k >= split]
        return "\n".join([
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_h(self.title)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            "<main>",
            *body,
            "</main>",
            "</body>",
            "</html>",
            "",
        ])


# ---------------------------------------------------------------------- Markdown rendering

_MD_ALWAYS = re.compile(r"([\\`*\[\]|])")
_MD_TAG = re.compile(r"<(?=[A-Za-z/!?])")
_MD_ENTITY = re.compile(r"&(?=#?\w+;)")
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_MD_LEAD = re.compile(r"^(\s*)(#|>|[-+](?=\s|$)|~|\d+(?=[.)](?:\s|$)))")


def _md_text(text: str) -> str:
    """Text that Markdown shows as written: no emphasis, link, code, HTML tag or entity, on one line."""
    text = " ".join(text.split("\n"))
    text = _MD_ALWAYS.sub(r"\\\1", text)
    text = _MD_ENTITY.sub("&amp;", text)
    text = _MD_TAG.sub("&lt;", text)
    return _MD_UNDERSCORE.sub(r"\\_", text)


def _md_code(text: str, in_table: bool) -> str:
    text = " ".join(text.split("\n"))
    if in_table:
        text = text.replace("|", "\\|")  # a pipe ends a table cell, even in code
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_url(url: str) -> str:
    return re.sub(r"[\s()<>\\]", lambda m: f"%{ord(m.group()):02X}", url)


def _md_inline(part: Inline, in_table: bool) -> str:
    if isinstance(part, str):
        return _md_text(part)
    if isinstance(part, Code):
        return _md_code(part.text, in_table)
    if isinstance(part, Link):
        return f"[{_md_text(part.text)}]({_md_url(part.url)})" if part.url else _md_text(part.text)
    return _md_text("; ".join(label for _sid, label in part.refs))


def _md_line(line: Line, in_table: bool = False) -> str:
    return "".join(_md_inline(p, in_table) for p in line)


def _md_start(line: Line) -> str:
    """A line that starts a block, not read as a heading, quote, list or fence."""
    text = _md_line(line)
    found = _MD_LEAD.match(text)
    if found is None:
        return text
    start, mark = found.end(1), found.group(2)
    at = start + len(mark) if mark[0].isdigit() else start  # "1\. text", "\# text"
    return text[:at] + "\\" + text[at:]


def _md_block(block: Block) -> str:
    if isinstance(block, Heading):
        return "#" * block.level + " " + _md_text(block.text).replace("#", "\\#")  # else a closing "#" is dropped
    if isinstance(block, Para):
        return _md_start(block.line)
    if isinstance(block, Bullets):
        return "\n".join(f"- {_md_start(item)}" for item in block.items)
    lines = [
        "| " + " | ".join(_md_text(h) for h in block.header) + " |",
        "|" + "|".join(" --- " for _ in block.header) + "|",
    ]
    for row in block.rows:
        lines.append("| " + " | ".join("<br>".join(_md_line(x, True) for x in cell) for cell in row) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------- HTML rendering


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _breakable(text: str) -> str:
    """Escaped text that may break after "_" and "/" where a line must (long ids, combinations, units)."""
    return re.sub(r"([_/])(?=\w)", r"\1<wbr>", _h(text))


def _html_inline(part: Inline) -> str:
    if isinstance(part, str):
        return _breakable(part)
    if isinstance(part, Code):
        return f"<code>{_breakable(part.text)}</code>"
    if isinstance(part, Link):
        if not re.match(r"https?://", part.url, re.IGNORECASE):  # only web addresses become links
            return _h(part.text)
        return f'<a href="{_h(part.url)}">{_h(part.text)}</a>'
    return "; ".join(f'<a class="cite" href="#{_h(source_anchor(sid))}">{_h(label)}</a>' for sid, label in part.refs)


def _html_line(line: Line) -> str:
    return "".join(_html_inline(p) for p in line)


def _html_block(block: Block, anchor: str | None) -> str:
    if isinstance(block, Heading):
        return f'<h{block.level} id="{_h(anchor or "")}">{_h(block.text)}</h{block.level}>'
    if isinstance(block, Para):
        return f"<p>{_html_line(block.line)}</p>"
    if isinstance(block, Bullets):
        return "<ul>\n" + "\n".join(f"<li>{_html_line(item)}</li>" for item in block.items) + "\n</ul>"
    head = "".join(f'<th scope="col">{_h(h)}</th>' for h in block.header)
    rows = []
    for k, row in enumerate(block.rows):
        anchor_attr = f' id="{_h(block.ids[k])}"' if block.ids else ""
        cells = "".join(f"<td>{'<br>'.join(_html_line(x) for x in cell)}</td>" for cell in row)
        rows.append(f"<tr{anchor_attr}>{cells}</tr>")
    return (f'<div class="wide"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n' + "\n".join(rows)
            + "\n</tbody>\n</table></div>")


def _html_toc(entries: Sequence[tuple[int, str, str]]) -> str:
    out, depth = ["<ul>"], 2
    for k, (level, text, anchor) in enumerate(entries):
        while depth < level:
            out.append("<ul>")
            depth += 1
        while depth > level:
            out.append("</ul></li>")
            depth -= 1
        link = f'<li><a href="#{_h(anchor)}">{_h(text)}</a>'
        deeper = k + 1 < len(entries) and entries[k + 1][0] > level
        out.append(link if deeper else link + "</li>")
    while depth > 2:
        out.append("</ul></li>")
        depth -= 1
    out.append("</ul>")
    return "\n".join(out)


CSS = """
:root{color-scheme:light}
body{font:10.5pt/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#111;background:#fff;
  margin:0 auto;padding:1em 1.5em;max-width:90em}
h1{font-size:1.7em;margin:0 0 .4em}
h2{font-size:1.35em;margin:1.8em 0 .5em;padding-bottom:.15em;border-bottom:2px solid #444}
h3{font-size:1.15em;margin:1.4em 0 .4em}
h4{font-size:1em;margin:1.2em 0 .3em}
p,ul{margin:.35em 0}
table{border-collapse:collapse;width:100%;margin:.4em 0 1em;font-size:.92em}
th,td{border:1px solid #999;padding:2px 5px;vertical-align:top;text-align:left;overflow-wrap:break-word}
th{background:#e8e8e8}
thead{display:table-header-group}
tr{break-inside:avoid}
code{font-family:ui-monospace,"SF Mono",Menlo,Consolas,"Liberation Mono",monospace;font-size:.92em;
  background:#f2f2f2;padding:0 2px;border-radius:2px;white-space:pre-wrap;overflow-wrap:break-word}
a{color:#0645ad;overflow-wrap:anywhere}
.wide{overflow-x:auto}
a.cite{color:inherit}
nav.toc ul{margin:.2em 0;padding-left:1.4em;list-style:none}
nav.toc>ul{padding-left:0}
@page{margin:14mm 12mm}
@media print{
  body{max-width:none;padding:0;font-size:9pt}
  a{color:inherit;text-decoration:none}
  nav.toc{break-after:page}
  h2,h3,h4{break-after:avoid}
  code{background:none;padding:0}
  table{font-size:8pt}
  th,td{padding:1px 3px}
  .wide{overflow:visible}
  th{background:#e8e8e8;-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""
