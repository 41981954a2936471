"""The rulebook: generated from the knowledge, complete, escaped, deterministic, and shipped current.

Completeness is checked against the knowledge itself (every rule, trigger condition, interaction, dose status,
factor, product and source, with its sources' labels beside it); the Markdown and the HTML are checked to say the
same (the Markdown rendered by a Markdown library gives the same text as the HTML); edits go through a copy of the
knowledge folder, as an author's change would.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

import mgdecision as mg
from mgdecision.document import Bullets, Code, Document, Heading, Link, Para, Table
from mgdecision.engine import Engine
from mgdecision.kb import knowledge
from mgdecision.rulebook import REGENERATE, SHIPPED, rulebook

KNOWLEDGE = Path(mg.__file__).parent / "knowledge"
BOOK = rulebook()
MD = BOOK.markdown()
HTML = BOOK.html()


class _Page(HTMLParser):
    """Checks nesting as it parses; collects text (outside style and title), ids, links and tags."""

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                      "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.ids: list[str] = []
        self.links: list[str] = []
        self.tags: Counter[str] = Counter()
        self.text: list[str] = []
        self.hidden = 0
        self.decls: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.decls.append(decl)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        found = dict(attrs)
        if found.get("id") is not None:
            self.ids.append(str(found["id"]))
        if tag == "a":
            self.links.append(str(found.get("href")))
        if tag in ("style", "title"):
            self.hidden += 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-3:]}"
        self.stack.pop()
        if tag in ("style", "title"):
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.text.append(data)


def _page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    assert page.stack == [], f"not closed: {page.stack}"
    return page


def _text(html: str) -> str:
    """The text a reader sees, without any white space (renderers differ in where they put line breaks)."""
    return "".join("".join(_page(html).text).split())


def _section(md: str, heading: str) -> str:
    """The Markdown from a heading line to the next heading of any level."""
    start = md.index(heading + "\n")
    end = md.find("\n#", start + len(heading))
    return md[start:end if end != -1 else None]


def _labels(entry: object) -> str:
    ids = entry.get("source", ()) if isinstance(entry, dict) else ()
    ids = (ids,) if isinstance(ids, str) else tuple(ids)
    return "; ".join(knowledge().sources[i].label for i in ids)


def _copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, folder)
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not once in {name}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return folder


# ---------------------------------------------------------------------- the shipped copy


def test_the_shipped_rulebook_is_the_one_the_knowledge_gives_now() -> None:
    shipped = SHIPPED.read_text(encoding="utf-8")
    if shipped != MD:
        diff = "".join(list(difflib.unified_diff(shipped.splitlines(True), MD.splitlines(True), "shipped",
                                                 "generated now", n=0))[:30])
        pytest.fail(f"{SHIPPED.name} is not the rulebook of the knowledge as it is now; regenerate it with "
                    f"`{REGENERATE}` and review the diff with the knowledge change:\n{diff}")


def test_the_version_and_the_notice_lead_the_rulebook() -> None:
    kb = knowledge()
    head = MD.split("## Contents", 1)[0]
    assert f"# mgdecision rulebook, knowledge {kb.version}" in head
    assert f"Knowledge version {kb.version}, released {kb.released}, status {kb.status}." in head
    assert kb.notice in head
    assert f"<title>mgdecision rulebook, knowledge {kb.version}</title>" in HTML


# ---------------------------------------------------------------------- complete, with sources


def test_every_contraindication_rule_is_there_with_its_level_text_sources_and_triggers_in_order() -> None:
    kb = knowledge()
    fire = kb.rules["contraindications"]["fire"]
    for rid, rule in kb.contraindications["rules"].items():
        block = _section(MD, f"#### {rid}: {rule['short']} ({rule['level']})")
        assert f"- Text: {rule['text']}" in block
        assert f"- Sources: {_labels(rule)}" in block
        numbers = [k for k, e in enumerate(fire, start=1) if e["rule"] == rid]
        rows = re.findall(r"^\| (\d+) \| `([^`]+)`", block, re.M)
        assert [int(n) for n, _ in rows] == numbers  # in firing order, each numbered as it fires
        for (_, when), k in zip(rows, numbers, strict=True):
            assert when == fire[k - 1]["when"]  # quoted as written
        if not numbers:
            assert "Named by: " in block  # a rule no trigger fires is named by a list item
    order = re.findall(r"^\| (\d+) \| `(\w+)` \| (?:CONTRAINDICATED|CAUTION) \| `([^`]+)`",
                       _section(MD, "### Triggers in firing order"), re.M)
    assert [(int(k), r, w) for k, r, w in order] == [(k, e["rule"], e["when"]) for k, e in enumerate(fire, start=1)]


def test_thresholds_are_shown_with_their_values_beside_the_conditions() -> None:
    kb = knowledge()
    renal = kb.contraindications["renal"]
    assert f"where `renal.severe_below = {renal['severe_below']}`" in MD
    assert f"eGFR {{egfr}} below {renal['severe_below']}" in MD  # the detail as the engine assembles it
    serum = kb.serum
    limits = _section(MD, "### Limits")
    for unit in ("mmol/L", "mg/dL", "mEq/L"):
        assert f"{serum['limits']['lower'][unit]:g}" in limits and f"{serum['urgent']['above'][unit]:g}" in limits
    grades = _section(MD, "### CTCAE v5 grades")
    for step in serum["ctcae_hypo"]["mg/dL"]:
        assert f"grade {step['grade']}: below {step['below']:g}" in grades
    other = _section(MD, "### Other serum thresholds")
    assert f"| {serum['current']['days']} |" in other
    assert f"| {serum['iv_therapy']['caution_up_to_mmol']:g} |" in other


def test_every_interaction_is_there_with_its_severity_hours_action_and_sources() -> None:
    table = _section(MD, "## 10. Interactions")
    for iid, entry in knowledge().interactions.items():
        (row,) = [line for line in table.splitlines() if line.startswith(f"| `{iid}` |")]
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        severity = entry["severity"]
        assert all(s in cells[1] for s in (severity.values() if isinstance(severity, dict) else [severity]))
        for key, cell in (("before_h", cells[2]), ("after_h", cells[3])):
            assert (f"{entry[key]:g}" in cell) if key in entry else cell == ""
        action = entry["action"]
        assert all(a in cells[4] for a in (action.values() if isinstance(action, dict) else [action]))
        assert cells[6] == _labels(entry)


def test_every_dose_status_is_there_in_precedence_order_with_its_condition_and_variants() -> None:
    statuses = knowledge().rules["dose"]["statuses"]
    found = re.findall(r"^#### Status (\d+): (\w+)$", MD, re.M)
    assert found == [(str(k), s["status"]) for k, s in enumerate(statuses, start=1)]
    for k, status in enumerate(statuses, start=1):
        block = MD[MD.index(f"#### Status {k}: "):]
        block = block[:10 + re.search(r"\n#{3,4} ", block[10:]).start()]  # type: ignore[union-attr]
        assert f"- When: `{status['when']}`" in block
        rows = re.findall(r"^\| \d+ \| `([^`]+)`", block, re.M)
        expected = [v["when"] for v in status["variants"]] + [p["when"] for p in status.get("parts", ())]
        assert rows == expected


def test_every_source_factor_product_drug_and_diagnosis_is_there() -> None:
    kb = knowledge()
    sources = _section(MD, "## 17. Sources")
    for sid, source in kb.sources.items():
        assert f"| `{sid}` | {source.label} |" in sources
        if source.url:
            assert source.url in sources
    for fid, factor in kb.risk["factors"].items():
        assert re.search(rf"^\| `{fid}` \| .* \| {factor['points']} \| .* \| {re.escape(_labels(factor))} \|$",
                         MD, re.M), fid
    for pid in kb.products["products"]:
        assert f"| `{pid}` |" in MD
    for concept in kb.concepts.values():
        label = concept.label if concept.kind == "drug" else f"`{concept.id}`"
        assert label in MD, concept.key
    for code in kb.condition_codes:
        assert f"`{code[:3]}.{code[3:]}`" in MD if len(code) > 3 else f"`{code}`" in MD


def test_the_markdown_and_the_html_say_the_same() -> None:
    mistune = pytest.importorskip("mistune")
    rendered = mistune.create_markdown(escape=False, plugins=["table"])(MD)
    assert _text(rendered) == _text(HTML)
    assert rendered.count("<table>") == HTML.count("<table>") > 40


# ---------------------------------------------------------------------- HTML, escaping


def test_the_html_is_one_well_formed_page_whose_links_all_land() -> None:
    page = _page(HTML)
    assert page.decls == ["DOCTYPE html"] and page.tags["html"] == page.tags["body"] == page.tags["h1"] == 1
    assert page.tags["script"] == 0 and page.tags["nav"] == 1
    assert len(page.ids) == len(set(page.ids)), [i for i, n in Counter(page.ids).items() if n > 1]
    inside = [link[1:] for link in page.links if link.startswith("#")]
    assert set(inside) <= set(page.ids), set(inside) - set(page.ids)
    assert {f"source-{s}" for s in knowledge().sources} <= set(inside)  # every source is cited and linked
    assert all(link.startswith(("#", "http://", "https://")) for link in page.links)
    assert "@media print" in HTML and "thead{display:table-header-group}" in HTML


HOSTILE = '<script>alert("x")</script> & *not bold* | [a](http://x.test) _u_ \\ `tick` &amp;'


def test_a_text_that_looks_like_markup_is_shown_as_written(tmp_path: Path) -> None:
    text = knowledge().contraindications["rules"]["myasthenia_gravis"]["text"]
    folder = _copy(tmp_path, "contraindications.toml", f'text = "{text}"', f"text = '''{HOSTILE}'''")
    book = rulebook(folder)
    html, md = book.html(), book.markdown()
    page = _page(html)
    assert page.tags["script"] == 0
    assert HOSTILE in "".join(page.text)
    assert "<script>" not in html and "<script>" not in md
    mistune = pytest.importorskip("mistune")
    rendered = mistune.create_markdown(escape=False, plugins=["table"])(md)
    shown = _page(rendered)
    assert shown.tags["script"] == 0 and shown.tags["em"] == 0 and shown.tags["strong"] == 0
    assert HOSTILE in "".join(shown.text)
    assert _text(rendered) == _text(html)


def test_markdown_block_starts_and_table_cells_are_escaped() -> None:
    mistune = pytest.importorskip("mistune")
    doc = Document("T #1", (
        Para(("# not a heading",)),
        Para(("1. not a list ", Code("a`b"), " ", Code("x | y"))),
        Bullets((("- not nested",), ("> not a quote",), ("+ x", Link("see", "javascript:alert(1)")))),
        Heading(2, "Part ## two"),
        Table(("a|b", "c"), ((((Code("x y"),),), (("p|q", "_r_"), ("2. s",))),)),
        Para(("~~~ not a fence <b>bold</b> &copy;",)),
    ))
    rendered = mistune.create_markdown(escape=False, plugins=["table"])(doc.markdown())
    shown = _page(rendered)
    assert shown.tags["ol"] == shown.tags["blockquote"] == shown.tags["b"] == shown.tags["pre"] == 0
    assert shown.tags["h1"] == 1 and shown.tags["h2"] == 2 and shown.tags["td"] == 2  # Contents and Part; one row
    assert shown.tags["ul"] == 2 and shown.tags["li"] == 4  # the contents (one entry) and the three bullets
    assert _text(rendered) == _text(doc.html())
    page = _page(doc.html())
    assert "javascript:" not in doc.html() and page.tags["b"] == 0 and "&copy;" in "".join(page.text)


# ---------------------------------------------------------------------- from the knowledge, and only from it


def test_editing_a_threshold_in_a_knowledge_copy_changes_the_rulebook(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "contraindications.toml", "severe_below = 30", "severe_below = 25")
    md = rulebook(folder).markdown()
    assert md != MD
    assert "where `renal.severe_below = 25`" in md and "eGFR {egfr} below 25" in md and "(25-59)" in md
    assert "renal.severe_below = 30" not in md
    engine_md = rulebook(Engine(folder)).markdown()  # an engine's knowledge: the same rules
    assert "where `renal.severe_below = 25`" in engine_md and "## 15. Codes" not in engine_md  # no codes given
    shutil.copytree(KNOWLEDGE, tmp_path / "same")
    assert rulebook(tmp_path / "same").markdown() == MD  # a copy of the same knowledge gives the same rulebook


def test_the_same_knowledge_gives_byte_identical_output_in_any_process() -> None:
    code = ("import hashlib, mgdecision as mg; b = mg.rulebook(); "
            "print(hashlib.sha256((b.markdown() + b.html()).encode()).hexdigest())")
    digests = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
        for seed in ("1", "2")
    }
    assert digests == {hashlib.sha256((MD + HTML).encode()).hexdigest()}
