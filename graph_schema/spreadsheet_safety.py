"""Cells that a spreadsheet program would run as formulas, made inert before any export writes them.

A member's free text (a product, firm or site name, a document number) reaches files that other firms and
the FDA open in Excel or LibreOffice. A cell starting with ``=``, ``+``, ``-`` or ``@`` is taken as a formula
there (``=HYPERLINK(...)`` sends the reader's data elsewhere; DDE payloads run programs), and so is one
starting with a tab, CR or LF, which the programs strip before looking. OWASP's rule (CSV injection) and ASVS
1.2.10: put a single quote before such a cell, which the programs read as "this is text". Numbers, dates and
booleans are not text and stay as they are, so sums and filters still work. Every export goes through
``safe_cell`` / ``safe_row``, for CSV and XLSX alike (openpyxl writes any string starting with ``=`` as a
formula).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, TypeVar

# The ASCII signs and control characters of OWASP's list, NUL (ASVS), and the full-width signs that East Asian
# input methods type and that spreadsheet programs in those locales may take as the ASCII ones.
FORMULA_STARTS: Final = frozenset("=+-@\t\r\n\0＝＋－＠")
QUOTE: Final = "'"

Value = TypeVar("Value")


def is_formula_like(text: str) -> bool:
    """True when a spreadsheet program would read ``text``, as a cell, as a formula (or strip its way to one)."""
    return bool(text) and text[0] in FORMULA_STARTS


def safe_cell(value: Value) -> Value | str:
    """``value`` as a cell that no spreadsheet runs: text that looks like a formula gets a leading quote."""
    if isinstance(value, str) and is_formula_like(value):
        return QUOTE + value
    return value


def safe_row(values: Iterable[Value]) -> list[Value | str]:
    """Every cell of a row through ``safe_cell``."""
    return [safe_cell(value) for value in values]
