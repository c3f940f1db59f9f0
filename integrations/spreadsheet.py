"""CSV for spreadsheet programs: pure, no I/O.

UTF-8 with a BOM (so spreadsheets in China read Chinese names as UTF-8, not GBK), CRLF line ends,
a header row. A cell that a spreadsheet would run as a formula gets a leading apostrophe.
"""

import csv
import io
from collections.abc import Iterable, Sequence

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text(value: str) -> str:
    """Free text shown as text: a leading apostrophe before what would start a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return (BOM + out.getvalue()).encode("utf-8")
