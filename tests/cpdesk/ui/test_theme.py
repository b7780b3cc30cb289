"""WCAG 2.2 AA from the one place colours are defined: text 4.5:1, edges and focus 3:1."""

import re

import pytest

from cpdesk.ui import theme
from cpdesk.ui.theme import NON_TEXT_PAIRS, PALETTE, TEXT_PAIRS, contrast_ratio


def test_contrast_formula_matches_known_values() -> None:
    assert contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast_ratio("#FFFFFF", "#FFFFFF") == pytest.approx(1.0)
    assert contrast_ratio("#767676", "#FFFFFF") == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize(("fg", "bg", "where"), TEXT_PAIRS, ids=[p[2] for p in TEXT_PAIRS])
def test_text_contrast_is_at_least_4_5(fg: str, bg: str, where: str) -> None:
    assert contrast_ratio(fg, bg) >= 4.5, where


@pytest.mark.parametrize(
    ("edge", "next_to", "where"), NON_TEXT_PAIRS, ids=[p[2] for p in NON_TEXT_PAIRS]
)
def test_focus_and_borders_are_at_least_3(edge: str, next_to: str, where: str) -> None:
    assert contrast_ratio(edge, next_to) >= 3.0, where


def test_style_sheet_uses_only_palette_colours() -> None:
    colours = set(re.findall(r"#[0-9A-Fa-f]{6}", theme.style_sheet()))
    palette = {v.upper() for v in PALETTE._asdict().values()}
    assert colours and {c.upper() for c in colours} <= palette


def test_every_palette_colour_used_for_text_is_checked() -> None:
    checked = {fg for fg, _, _ in TEXT_PAIRS}
    for name in ("text", "text_secondary", "on_primary", "on_action", "on_focus", "error"):
        assert getattr(PALETTE, name) in checked


def test_sizes_meet_target_and_focus_rules() -> None:
    assert theme.MIN_TARGET_PX >= 24
    assert theme.FOCUS_WIDTH_PX >= 2
    assert theme.BASE_PT >= 12
    sheet = theme.style_sheet()
    for selector in ("QLineEdit:focus", "QPushButton:focus", "QCheckBox:focus", "QTableView:focus"):
        assert selector in sheet
    assert f"{theme.FOCUS_WIDTH_PX}px solid {PALETTE.focus_ring}" in sheet
