"""The one palette (``mgdecision.palette``) and the card rendering that uses it (``mgdecision.render``)."""

from __future__ import annotations

import pytest

import mgdecision as mg
from mgdecision import render
from mgdecision.accessor import flag_css
from mgdecision.models import Card
from mgdecision.palette import HEADER, INDICATORS, LEVELS
from mgdecision.vocab import ContraLevel, DoseStatus, Indicator, RiskLevel

OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")


def _rgb(colour: str) -> tuple[int, int, int]:
    h = colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _luminance(colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = map(channel, _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _okabe_ito_hue_or_tint(colour: str) -> bool:
    """The colour is an Okabe-Ito hue, or a tint of one (every channel the same share of the way to white)."""
    if colour.upper() in OKABE_ITO:
        return True
    for hue in OKABE_ITO[:-1]:
        shares = [(255 - c) / (255 - h) for c, h in zip(_rgb(colour), _rgb(hue), strict=True) if h < 250]
        if shares and max(shares) - min(shares) < 0.03:
            return True
    return False


def test_every_level_word_and_indicator_has_one_swatch() -> None:
    words = {str(v) for enum in (RiskLevel, ContraLevel, DoseStatus) for v in enum}
    assert set(LEVELS) == words
    assert set(INDICATORS) == {str(v) for v in Indicator}


@pytest.mark.parametrize("name", [*LEVELS, *INDICATORS, "header"])
def test_colour_blind_safe_hues_with_aa_text_contrast(name: str) -> None:
    swatch = LEVELS.get(name) or INDICATORS.get(name) or HEADER
    assert _okabe_ito_hue_or_tint(swatch.fill), swatch
    assert contrast(swatch.fill, swatch.text) >= 4.5, swatch  # WCAG AA for normal text


def test_one_meaning_per_colour_across_levels_and_cards() -> None:
    assert LEVELS["CONTRAINDICATED"] == INDICATORS["critical"]  # stop is stop, in a cell and on a card
    assert LEVELS["CAUTION"] == LEVELS["HIGH"] == INDICATORS["warning"]
    assert LEVELS["LOW"] == LEVELS["NONE_FOUND"] == LEVELS["RECOMMENDED"]


def test_front_ends_read_the_palette() -> None:
    assert {k: v.fill for k, v in INDICATORS.items()} == render.PALETTE
    assert {k: v.text for k, v in INDICATORS.items()} == render.TEXT_ON
    for word, swatch in LEVELS.items():
        assert flag_css("mg_risk" if word in set(RiskLevel) else "mg_contraindication" if word in set(ContraLevel)
                        else "mg_dose_status", word) == f"background-color: {swatch.fill}; color: {swatch.text}"
    sheets = pytest.importorskip("mgdecision.batch.sheets")
    assert {k: f"#{v}" for k, v in sheets.LEVEL_FILLS.items()} == {k: v.fill for k, v in LEVELS.items()}
    assert f"#{sheets.HEADER_FILL}" == HEADER.fill


CARD = Card("info", "RECOMMENDED: 200 mg/day", "**Form and timing:** glycinate, with `meals`\n- a <reason> [src]",
            "src", "", "dose")


def test_html_cards_show_markup_as_tags_never_as_literal_text() -> None:
    out = render.cards_html((CARD,))
    assert "<strong>Form and timing:</strong>" in out and "<code>meals</code>" in out
    assert "&lt;strong&gt;" not in out and "**" not in out and "`" not in out
    assert "a &lt;reason&gt; [src]" in out  # the text itself stays escaped


def test_terminal_text_drops_the_markup() -> None:
    a = mg.assess({"age": 52, "sex": "F", "serum_mg": "0.62 mmol/L", "supplement_form": "oxide"})
    text = render.to_text(a)
    assert "**" not in text and "`" not in text
    assert any("**" in c.detail for c in a.cards) or "Form and timing:" in text
    assert render._plain(CARD.detail.splitlines()[0]) == "Form and timing: glycinate, with meals"
