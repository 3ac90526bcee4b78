"""The gradebook as an Excel workbook, for the TAs who open it by double-click.

``gradebook.csv`` stays the contract (scripts, LMS imports); this is the same table for Excel
and Google Sheets, where a CSV without a byte-order mark garbles Hangul under a Korean
locale. An xlsx file is always Unicode. Scores are numbers, ids and statuses are text (an id
such as ``0012345`` keeps its zeros, and one such as ``=1+1`` is never a formula).
"""

from __future__ import annotations

import io
import unicodedata

from .results import Result, gradebook_header

_POINTS = "0.00"  # scores are rounded to 0.01 (Result.part_scores), so nothing is hidden
_WHOLE = "0"
_TEXT = "@"


def gradebook_xlsx(results: list[Result], assignment: str, parts: list[str]) -> bytes:
    """The gradebook (the columns of ``gradebook.csv``) as the bytes of an xlsx workbook.

    One sheet named after ``assignment``, one row per result and one column per part;
    the header row and the student column are frozen, the header has a filter, and every
    column is as wide as its widest cell.
    """
    from openpyxl import Workbook  # here, not at the top: grading workers never need it
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.worksheet import Worksheet

    def text(value: str) -> str:
        """``value`` as XML can hold it: a control character or a lone surrogate (from a
        file name) is shown as its escape, as ``gradebook.csv`` shows it."""
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", value)

    book = Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)  # a new workbook's one sheet
    sheet.title = assignment
    header = gradebook_header(parts)
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    formats = [_TEXT, _POINTS, _WHOLE, *(_POINTS for _ in parts), _TEXT]
    for result in results:
        earned = result.part_scores()
        row = [
            text(result.student),
            result.score,
            result.max_score,
            *(earned[part] for part in parts),
            text(result.status),
        ]
        sheet.append(row)
        for cell, number_format in zip(sheet[sheet.max_row], formats, strict=True):
            cell.number_format = number_format
            if number_format == _TEXT:
                cell.data_type = "s"  # openpyxl would make a text starting with "=" a formula
    for index, column in enumerate(sheet.iter_cols(), start=1):
        shown = [f"{c.value:.2f}" if isinstance(c.value, float) else str(c.value) for c in column]
        widest = max(
            sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in value)
            for value in shown
        )
        sheet.column_dimensions[get_column_letter(index)].width = widest + 2
    sheet.freeze_panes = "B2"
    sheet.auto_filter.ref = sheet.dimensions
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
