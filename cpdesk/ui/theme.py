"""The one place where colours, fonts and sizes are defined (WCAG 2.2 AA).

Colours come from the NHS identity palette, which was chosen for contrast. Every pair of
colours the UI draws text or a control edge with is listed in `TEXT_PAIRS` and
`NON_TEXT_PAIRS`, so a test computes their contrast ratios: text at least 4.5:1, focus
indicators and control borders at least 3:1. Widgets pick a look with `set_role()` (a
dynamic property the style sheet matches); they never name a colour or a size themselves.
Fonts are large for a busy A&E and set in points so they scale with the screen (125-200%).
"""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QHBoxLayout, QVBoxLayout, QWidget

__all__ = [
    "BASE_PT",
    "FOCUS_WIDTH_PX",
    "MIN_TARGET_PX",
    "NON_TEXT_PAIRS",
    "PALETTE",
    "QT_ARGS",
    "TEXT_PAIRS",
    "Palette",
    "apply_theme",
    "centre_card",
    "contrast_ratio",
    "init_role",
    "set_role",
    "style_sheet",
]

QT_ARGS = ["-style", "Fusion"]  # for QApplication(argv): the style, chosen at creation
BASE_PT = 12  # body text: 16 px at 96 dpi, the NHS's body size
SMALL_PT = 11
H1_PT = 20
H2_PT = 15
MIN_TARGET_PX = 36  # every click target, well above WCAG 2.2's 24 x 24 px
FOCUS_WIDTH_PX = 3
SPACING_PX = 12


class Palette(NamedTuple):  # not a frozen dataclass: ~2 ms less before the first paint
    text: str = "#212B32"  # NHS black
    text_secondary: str = "#4C6272"  # NHS dark grey: hints, labels of facts
    window: str = "#F0F4F5"  # NHS pale grey page
    surface: str = "#FFFFFF"  # inputs, cards, tables
    surface_alt: str = "#E8EDEE"  # alternate table rows, card headers
    border: str = "#4C6272"  # control borders (>= 3:1 on surface and window)
    primary: str = "#005EB8"  # NHS blue: links, selection, badges
    primary_dark: str = "#003087"  # header bar, status bar
    on_primary: str = "#FFFFFF"
    action: str = "#007F3B"  # NHS green: the main button on each screen
    action_dark: str = "#00662F"
    on_action: str = "#FFFFFF"
    focus: str = "#FFEB3B"  # NHS focus yellow fill
    focus_ring: str = "#212B32"  # the focus edge itself: dark, so it shows on every fill
    on_focus: str = "#212B32"
    error: str = "#D5281B"  # NHS red: error text and error borders
    on_error: str = "#FFFFFF"
    restricted: str = "#8A1538"  # shielded-child banner
    on_restricted: str = "#FFFFFF"
    warning: str = "#FFB81C"  # NHS warm yellow: expiry warning, cached marker
    on_warning: str = "#212B32"


PALETTE = Palette()
_P = PALETTE

# (foreground, background, where): text must reach 4.5:1.
TEXT_PAIRS: tuple[tuple[str, str, str], ...] = (
    (_P.text, _P.window, "body text on the page"),
    (_P.text, _P.surface, "text in inputs, cards and tables"),
    (_P.text, _P.surface_alt, "text on alternate rows and card headers"),
    (_P.text_secondary, _P.window, "hints and fact labels on the page"),
    (_P.text_secondary, _P.surface, "hints and fact labels in cards"),
    (_P.text_secondary, _P.surface_alt, "fact labels on alternate rows"),
    (_P.on_primary, _P.primary, "selected row, badges"),
    (_P.on_primary, _P.primary_dark, "header and status bar"),
    (_P.primary, _P.surface, "link-style buttons in cards"),
    (_P.primary, _P.window, "link-style buttons on the page"),
    (_P.on_action, _P.action, "main button"),
    (_P.on_action, _P.action_dark, "main button pressed or hovered"),
    (_P.on_focus, _P.focus, "focused button"),
    (_P.error, _P.surface, "error messages in cards"),
    (_P.error, _P.window, "error messages on the page"),
    (_P.on_error, _P.error, "error badge"),
    (_P.on_restricted, _P.restricted, "shielded banner"),
    (_P.on_warning, _P.warning, "expiry warning and cached marker"),
)

# (edge, neighbour, where): focus indicators and control borders must reach 3:1.
NON_TEXT_PAIRS: tuple[tuple[str, str, str], ...] = (
    (_P.border, _P.surface, "input border inside a card"),
    (_P.border, _P.window, "input border on the page"),
    (_P.border, _P.surface_alt, "scroll bar handle on its groove"),
    (_P.focus_ring, _P.surface, "focus ring around an input"),
    (_P.focus_ring, _P.window, "focus ring on the page"),
    (_P.focus_ring, _P.focus, "focus ring against the focus fill"),
    (_P.focus_ring, _P.surface_alt, "focus ring on an alternate row or hovered button"),
    (_P.focus, _P.primary_dark, "a focused button's yellow fill in the dark header"),
    (_P.error, _P.surface, "error border of an input"),
    (_P.primary, _P.surface, "selected row against the table"),
    (_P.action, _P.window, "main button against the page"),
)


def centre_card(page: QWidget, card: QWidget, *, space_below: int = 1) -> None:
    """Lay `card` out in the middle of `page`: the one look of the sign-in and lock panels.

    `space_below` weighs the stretch under the card against the one above it (2 lifts the
    card towards the top, where the eye starts).
    """
    outer = QVBoxLayout(page)
    outer.addStretch(1)
    row = QHBoxLayout()
    row.addStretch(1)
    row.addWidget(card, 3)
    row.addStretch(1)
    outer.addLayout(row)
    outer.addStretch(space_below)


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _linear(r) + 0.7152 * _linear(g) + 0.0722 * _linear(b)


def contrast_ratio(a: str, b: str) -> float:
    """The WCAG 2 contrast ratio of two '#RRGGBB' colours (1.0 to 21.0)."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def style_sheet(p: Palette = PALETTE) -> str:
    """The application style sheet. Focus: a dark 3 px ring plus the NHS yellow fill.

    A focused button (the green one too) turns yellow, so its ring always sits between
    the yellow fill and the page: both pairs are in NON_TEXT_PAIRS.
    """
    f = FOCUS_WIDTH_PX
    t = MIN_TARGET_PX
    return f"""
QWidget {{ color: {p.text}; font-size: {BASE_PT}pt; }}
QMainWindow, QDialog, QWidget#page {{ background: {p.window}; }}
QDialog {{ border: 2px solid {p.border}; }}
QScrollArea, QScrollArea > QWidget > QWidget {{ background: {p.window}; border: none; }}
QLabel {{ background: transparent; }}
QLabel[role="h1"] {{ font-size: {H1_PT}pt; font-weight: bold; }}
QLabel[role="h2"] {{ font-size: {H2_PT}pt; font-weight: bold; }}
QLabel[role="hint"] {{ color: {p.text_secondary}; }}
QLabel[role="fact-label"] {{ color: {p.text_secondary}; font-weight: bold; }}
QLabel[role="contact"] {{ font-weight: bold; }}
QLabel[role="error"] {{ color: {p.error}; font-weight: bold; }}
QLabel[role="badge-lead"] {{ background: {p.primary}; color: {p.on_primary};
    font-weight: bold; padding: 3px 8px; border-radius: 4px; }}
QLabel[role="badge-caf"] {{ background: {p.warning}; color: {p.on_warning};
    font-weight: bold; padding: 3px 8px; border-radius: 4px; }}
QLabel[role="badge-error"] {{ background: {p.error}; color: {p.on_error};
    font-weight: bold; padding: 3px 8px; border-radius: 4px; }}
QLabel[role="badge-same"] {{ background: {p.action}; color: {p.on_action};
    font-weight: bold; padding: 3px 8px; border-radius: 4px; }}
QFrame[role="card"] {{ background: {p.surface}; border: 1px solid {p.border};
    border-radius: 6px; }}
QFrame[role="card"]:focus {{ border: {f}px solid {p.focus_ring}; }}
QFrame[role="error-summary"] {{ background: {p.surface}; border: {f}px solid {p.error};
    border-radius: 4px; }}
QFrame[role="error-summary"]:focus {{ border: {f}px solid {p.focus_ring};
    background: {p.surface}; }}
QFrame[role="shielded"] {{ background: {p.restricted}; border-radius: 6px; }}
QFrame[role="shielded"] QLabel {{ color: {p.on_restricted}; }}
QFrame[role="warning"] {{ background: {p.warning}; border-radius: 4px; }}
QFrame[role="warning"] QLabel {{ color: {p.on_warning}; }}
QFrame[role="header"] {{ background: {p.primary_dark}; }}
QFrame[role="header"] QLabel {{ color: {p.on_primary}; }}
QLineEdit, QComboBox, QPlainTextEdit {{ background: {p.surface}; color: {p.text};
    border: 2px solid {p.border}; border-radius: 2px; padding: 5px 7px;
    min-height: {t - 16}px; selection-background-color: {p.primary};
    selection-color: {p.on_primary}; }}
QLineEdit:focus, QComboBox:focus, QPlainTextEdit:focus {{ border: {f}px solid {p.focus_ring};
    padding: 4px 6px; background: {p.surface}; }}
QLineEdit[error="true"], QComboBox[error="true"] {{ border: {f}px solid {p.error};
    padding: 4px 6px; }}
QLineEdit[error="true"]:focus {{ border: {f}px solid {p.focus_ring}; }}
QComboBox::drop-down {{ subcontrol-origin: padding; subcontrol-position: center right;
    width: 28px; border: none; }}
QComboBox::down-arrow {{ image: none; width: 0px; height: 0px; border-left: 7px solid {p.surface};
    border-right: 7px solid {p.surface}; border-top: 9px solid {p.text}; }}
QComboBox QAbstractItemView {{ background: {p.surface}; color: {p.text};
    selection-background-color: {p.primary}; selection-color: {p.on_primary}; }}
QPushButton {{ background: {p.surface}; color: {p.primary}; border: 2px solid {p.border};
    border-radius: 4px; padding: 6px 16px; min-height: {t - 16}px; font-weight: bold; }}
QPushButton:hover {{ background: {p.surface_alt}; }}
QPushButton[role="primary"] {{ background: {p.action}; color: {p.on_action};
    border: 2px solid {p.action_dark}; }}
QPushButton[role="primary"]:hover, QPushButton[role="primary"]:pressed {{
    background: {p.action_dark}; }}
QPushButton[role="copy"] {{ padding: 4px 10px; }}
QPushButton:focus, QPushButton[role="primary"]:focus {{ background: {p.focus};
    color: {p.on_focus}; border: {f}px solid {p.focus_ring}; }}
QPushButton:disabled {{ color: {p.text_secondary}; background: {p.surface_alt}; }}
QCheckBox, QRadioButton {{ spacing: 10px; padding: 4px; min-height: {t - 8}px;
    border: {f}px solid transparent; border-radius: 3px; }}
QCheckBox:focus, QRadioButton:focus {{ border: {f}px solid {p.focus_ring};
    background: {p.focus}; color: {p.on_focus}; }}
QCheckBox::indicator, QRadioButton::indicator {{ width: 22px; height: 22px; }}
QTableView {{ background: {p.surface}; alternate-background-color: {p.surface_alt};
    color: {p.text}; border: 2px solid {p.border}; gridline-color: {p.surface_alt};
    selection-background-color: {p.primary}; selection-color: {p.on_primary}; }}
QTableView:focus {{ border: {f}px solid {p.focus_ring}; }}
QTableView::item {{ padding: 6px; }}
QHeaderView::section {{ background: {p.surface_alt}; color: {p.text}; font-weight: bold;
    padding: 6px; border: none; border-bottom: 2px solid {p.border}; }}
QStatusBar {{ background: {p.primary_dark}; }}
QStatusBar QLabel {{ color: {p.on_primary}; font-size: {SMALL_PT}pt; padding: 2px 8px; }}
QProgressBar {{ border: 2px solid {p.border}; border-radius: 3px; background: {p.surface};
    max-height: 14px; }}
QProgressBar::chunk {{ background: {p.primary}; }}
QScrollBar:vertical {{ background: {p.surface_alt}; width: 16px; margin: 0; }}
QScrollBar::handle:vertical {{ background: {p.border}; min-height: 40px; border-radius: 4px;
    margin: 2px; }}
QScrollBar::add-line:vertical, QScrollBar::sub-line:vertical {{ height: 0; }}
QScrollBar::add-page:vertical, QScrollBar::sub-page:vertical {{ background: none; }}
QToolTip {{ background: {p.surface}; color: {p.text}; border: 1px solid {p.border}; }}
"""


def set_role(widget: QWidget, role: str, **flags: bool) -> None:
    """Give a widget a look from the style sheet, and re-polish it if it was shown."""
    widget.setProperty("role", role)
    for name, value in flags.items():
        widget.setProperty(name, "true" if value else "false")
    _repolish(widget)


def init_role(widget: QWidget, role: str) -> None:
    """`set_role` for a widget being built and not shown yet: Qt styles it when shown.

    The sign-in page uses it: asking whether a widget is already styled needs PySide's
    `Qt` namespace, which costs ~25 ms to load, more than that page takes to paint.
    """
    widget.setProperty("role", role)


def _repolish(widget: QWidget) -> None:
    """Re-apply the style sheet to a widget already styled; a new one is styled when shown."""
    from PySide6.QtCore import Qt

    if widget.testAttribute(Qt.WidgetAttribute.WA_WState_Polished):
        style = widget.style()
        style.unpolish(widget)
        style.polish(widget)


def set_error(widget: QWidget, on: bool) -> None:
    """Mark an input as being in error (red edge) or not."""
    widget.setProperty("error", "true" if on else "false")
    _repolish(widget)


def _qpalette(p: Palette) -> QPalette:
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: p.window,
        QPalette.ColorRole.WindowText: p.text,
        QPalette.ColorRole.Base: p.surface,
        QPalette.ColorRole.AlternateBase: p.surface_alt,
        QPalette.ColorRole.Text: p.text,
        QPalette.ColorRole.Button: p.surface,
        QPalette.ColorRole.ButtonText: p.text,
        QPalette.ColorRole.Highlight: p.primary,
        QPalette.ColorRole.HighlightedText: p.on_primary,
        QPalette.ColorRole.ToolTipBase: p.surface,
        QPalette.ColorRole.ToolTipText: p.text,
        QPalette.ColorRole.PlaceholderText: p.text_secondary,
        QPalette.ColorRole.Link: p.primary,
    }
    for role, colour in roles.items():
        pal.setColor(role, QColor(colour))
    return pal


def apply_theme(app: QApplication, *, set_style: bool = True) -> None:
    """Fusion style (same on every OS, honours the palette), the palette, the sheet, the font.

    `set_style=False` when the application was created with `-style Fusion` (see
    `QT_ARGS`): `setStyle` hands back a QStyle, and PySide builds that class's ~10 big
    enums the first time one is seen (~8 ms before the sign-in window can paint).
    """
    if set_style:
        app.setStyle("Fusion")
    app.setPalette(_qpalette(PALETTE))
    font = QFont(app.font())
    font.setPointSize(BASE_PT)
    app.setFont(font)
    app.setStyleSheet(style_sheet())
