"""Tables: read a CSV/TSV file into a `Table` of stripped text cells.

`read_table` / `parse_table_text` detect the delimiter and the header row; ragged rows, binary
files and empty files raise `DataError`, whose message names the file and its line numbers.
Turning columns into features is engine.data.table_features. No TensorFlow, Qt or pandas.
"""
from __future__ import annotations

import csv
import io
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

from engine.core.errors import DataError
from engine.core.fileio import file_problem, size_text

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})  # case-insensitive, after strip
DELIMITERS = (",", "\t", ";", "|")
_DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "vertical bar"}
_SNIFF_CHARS = 64 << 10
_HEADER_ROWS = 1000  # rows below the first one looked at to decide whether it is a header
_LISTED = 6  # line numbers / names listed in a message before "and N more"


# --------------------------------------------------------------------------- message helpers

def _listing(items: Sequence[str], limit: int = _LISTED) -> str:
    """'a, b, c and 4 more' (everything when there are few)."""
    items = [str(item) for item in items]
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _quoted(names: Sequence[str], limit: int = _LISTED) -> str:
    """Names in single quotes, listed."""
    return _listing([f"'{name}'" for name in names], limit)


def _lines(lines: Sequence[int]) -> str:
    """'line 3' or 'lines 3, 7 and 12 more'."""
    return ("line " if len(lines) == 1 else "lines ") + _listing([str(n) for n in lines])


def _to_float(cell: str) -> float | None:
    """The cell as a finite float, or None."""
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _is_missing(cell: str) -> bool:
    """True for an empty cell or a missing-value marker (NA, null, ?, ...)."""
    return cell.lower() in MISSING


# --------------------------------------------------------------------------- the Table type

@dataclass(frozen=True)
class _Parsed:
    """One column read as numbers."""

    missing: np.ndarray  # bool: empty or a MISSING marker
    values: np.ndarray  # float64, NaN where missing or not a number
    bad: np.ndarray  # bool: present but not a finite number

    @property
    def is_numeric(self) -> bool:
        """Every present cell is a number and at least one is present."""
        return not self.bad.any() and not self.missing.all()


def _parse_column(cells: np.ndarray) -> _Parsed:
    """Read a column of text cells as float64."""
    missing = np.fromiter((_is_missing(c) for c in cells), dtype=bool, count=len(cells))
    present = cells[~missing]
    try:
        numbers = present.astype(np.float64)
    except (ValueError, TypeError):
        numbers = np.array([_to_float(c) for c in present], dtype=np.float64)  # None -> NaN
    numbers[~np.isfinite(numbers)] = np.nan
    values = np.full(len(cells), np.nan)
    values[~missing] = numbers
    return _Parsed(missing, values, ~missing & np.isnan(values))


@dataclass(frozen=True)
class Table:
    """Text cells of a CSV/TSV table, with column names and where each row came from."""

    names: tuple[str, ...]  # column names; without a header "column 1", "column 2", ...
    cells: np.ndarray  # (n_rows, n_cols) dtype object (str), each cell stripped
    has_header: bool
    delimiter: str
    source: str  # file name ("" for text)
    first_line: int  # file line of the first data row (1-based)
    lines: np.ndarray | None = field(default=None, repr=False)  # file line of each data row; None: consecutive

    @property
    def n_rows(self) -> int:
        """Number of data rows."""
        return int(self.cells.shape[0])

    @property
    def where(self) -> str:
        """The file name for messages ("The table" without one)."""
        return self.source or "The table"

    def column(self, name: str) -> np.ndarray:
        """The cells of one column; DataError for an unknown name."""
        if name not in self.names:
            raise DataError(f"{self.where} has no column '{name}'; its columns are "
                            f"{_quoted(self.names, 10)}. Choose one of those.")
        return self.cells[:, self.names.index(name)]

    def numeric_columns(self) -> list[str]:
        """Columns whose present cells are all finite numbers (at least one present)."""
        return [name for name in self.names if self._parsed(name).is_numeric]

    def text_columns(self) -> list[str]:
        """All other columns (text, or every cell missing)."""
        return [name for name in self.names if not self._parsed(name).is_numeric]

    def index_columns(self) -> list[str]:
        """Numeric columns that only ever increase, with no gaps: a time stamp or row number, not a signal."""
        found = []
        for name in self.numeric_columns():
            parsed = self._parsed(name)
            if self.n_rows > 2 and not parsed.missing.any() and bool(np.all(np.diff(parsed.values) > 0)):
                found.append(name)
        return found

    def line_of(self, row: int) -> int:
        """File line number (1-based) of a 0-based data row."""
        return int(self.lines[row]) if self.lines is not None else self.first_line + int(row)

    def lines_of(self, rows: np.ndarray) -> list[int]:
        """File line numbers of a boolean mask or index array of data rows."""
        rows = np.asarray(rows)
        return [self.line_of(int(r)) for r in (np.flatnonzero(rows) if rows.dtype == bool else rows)]

    @cached_property
    def _cache(self) -> dict[str, _Parsed]:
        return {}

    def _parsed(self, name: str) -> _Parsed:
        """The column read as numbers (cached)."""
        if name not in self._cache:
            self._cache[name] = _parse_column(self.column(name))
        return self._cache[name]


# --------------------------------------------------------------------------- reading

def read_table(path: str | os.PathLike, max_bytes: int = 512 << 20) -> Table:
    """Read a CSV/TSV file (utf-8, else latin-1); delimiter and header row are detected."""
    path = Path(path)
    problem = file_problem(path)
    if problem:
        raise DataError(f"{problem} Choose a CSV or TSV file.")
    size = path.stat().st_size
    if size > max_bytes:
        raise DataError(f"{path.name} is {size_text(size)}; tables up to {size_text(max_bytes)} can be read. "
                        "Choose a smaller file, or keep fewer rows.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"Cannot read {path.name}: {exc}. Check the file and its permissions.") from exc
    return parse_table_text(_decode(raw, path.name), path.name)


def _decode(raw: bytes, name: str) -> str:
    """Bytes -> text: UTF-16 with a byte-order mark, else utf-8-sig, else latin-1."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise _binary_error(name) from None
    if b"\x00" in raw:
        raise _binary_error(name)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _binary_error(where: str) -> DataError:
    return DataError(f"{where} is not a text table (it looks binary, e.g. an image or a spreadsheet workbook). "
                     "Choose a CSV or TSV file (a spreadsheet can save one with Save As > CSV).")


def _looks_binary(text: str) -> bool:
    """NUL characters, or more than 5% control characters at the start."""
    head = text[:_SNIFF_CHARS]
    controls = sum(1 for ch in head if ch < " " and ch not in "\t\n\r\f\v")
    return "\x00" in text or controls > 0.05 * max(len(head), 1)


def parse_table_text(text: str, source: str = "") -> Table:
    """Parse CSV/TSV text; `source` (a file name) is used in messages and for the .tsv hint."""
    where = source or "The table"
    if _looks_binary(text):
        raise _binary_error(where)
    text = text.removeprefix("\ufeff")
    delimiter = _sniff_delimiter(text[:_SNIFF_CHARS], source)
    rows = _read_rows(text, delimiter, where)
    if not rows:
        raise DataError(f"{where} is empty: it has no rows. Choose a CSV or TSV file with a header row "
                        "and data rows.")
    width = len(rows[0][1])
    has_header = _detect_header([cells for _, cells in rows if len(cells) == width])
    if any(len(cells) != width for _, cells in rows):
        raise _ragged_error(where, rows, has_header, delimiter)
    data = rows[1:] if has_header else rows
    if not data:
        raise DataError(f"{where} has a header but no data rows. Add rows below the header line, "
                        "or choose another file.")
    names = _unique_names(rows[0][1]) if has_header else tuple(f"column {j + 1}" for j in range(width))
    cells = np.empty((len(data), width), dtype=object)
    for i, (_, row) in enumerate(data):
        cells[i] = row
    lines = np.array([line for line, _ in data], dtype=np.int64)
    return Table(names, cells, has_header, delimiter, source, int(lines[0]), lines)


def _read_rows(text: str, delimiter: str, where: str) -> list[tuple[int, list[str]]]:
    """(file line where the record starts, stripped cells) for each non-blank record."""
    # strict: a quote that is never closed ends in an error at its line, instead of swallowing the rest of the
    # file into one cell (which used to be reported as "too few rows")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True, strict=True)
    rows: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for record in reader:
            cells = [cell.strip() for cell in record]
            if any(cells):  # blank lines and lines of bare delimiters are skipped
                rows.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(f"{where}: line {line} cannot be read ({exc}). Fix that line; often a \" quote "
                        "is not closed.") from exc
    return rows


def _sniff_delimiter(sample: str, source: str) -> str:
    """Pick the delimiter among DELIMITERS: csv.Sniffer, checked against field-count consistency."""
    if len(sample) == _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rfind("\n")]  # drop the cut-off last line
    scores = {d: _consistency(sample, d) for d in DELIMITERS}
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    usable = {d: share for d, (share, width) in scores.items() if width > 1}
    if not usable:
        return "\t" if Path(source).suffix.lower() == ".tsv" else ","
    best = max(usable.values())
    if usable.get(sniffed, -1.0) >= best:
        return sniffed
    if Path(source).suffix.lower() == ".tsv" and usable.get("\t", -1.0) >= best:
        return "\t"
    return next(d for d in DELIMITERS if usable.get(d, -1.0) >= best)


def _consistency(sample: str, delimiter: str, n_lines: int = 50) -> tuple[float, int]:
    """(share of the first rows having the most common field count, that count)."""
    widths: Counter[int] = Counter()
    try:
        for record in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter, skipinitialspace=True):
            if any(cell.strip() for cell in record):
                widths[len(record)] += 1
            if sum(widths.values()) >= n_lines:
                break
    except csv.Error:
        return 0.0, 0
    if not widths:
        return 0.0, 0
    width, count = widths.most_common(1)[0]
    return count / sum(widths.values()), width


def _detect_header(rows: list[list[str]]) -> bool:
    """Whether the first row names the columns (see the module's rules)."""
    first, below = rows[0], rows[1: _HEADER_ROWS + 1]
    numeric_below = [_all_numbers([row[j] for row in below]) for j in range(len(first))]
    if any(numeric_below):
        return any(numeric and not _is_missing(cell) and _to_float(cell) is None
                   for numeric, cell in zip(numeric_below, first))
    if any(_is_missing(cell) or _to_float(cell) is not None for cell in first) or len(set(first)) < len(first):
        return False
    return _length_vote(first, below[:20]) >= 0


def _all_numbers(cells: list[str]) -> bool:
    """Every present cell is a finite number and at least one is present."""
    present = [cell for cell in cells if not _is_missing(cell)]
    return bool(present) and all(_to_float(cell) is not None for cell in present)


def _length_vote(first: list[str], below: list[list[str]]) -> int:
    """csv.Sniffer.has_header's vote for text: columns of fixed width vote header if the first cell differs."""
    votes = 0
    for j, name in enumerate(first):
        widths = {len(row[j]) for row in below}
        if len(widths) == 1:
            votes += 1 if len(name) not in widths else -1
    return votes


def _unique_names(first: list[str]) -> tuple[str, ...]:
    """Header cells made unique: empty -> 'column 3', repeats -> 'x (2)'."""
    names: list[str] = []
    for j, cell in enumerate(first):
        base = cell or f"column {j + 1}"
        name, k = base, 2
        while name in names:
            name, k = f"{base} ({k})", k + 1
        names.append(name)
    return tuple(names)


def _ragged_error(where: str, rows: list[tuple[int, list[str]]], has_header: bool, delimiter: str) -> DataError:
    """Name the lines whose field count differs from the first row's."""
    first_line, width = rows[0][0], len(rows[0][1])
    odd = [(line, len(cells)) for line, cells in rows if len(cells) != width]
    usual, count = Counter(len(cells) for _, cells in rows).most_common(1)[0]
    what = _DELIMITER_NAMES[delimiter]
    if usual != width and count > len(rows) / 2:
        return DataError(f"{where}: the first row (line {first_line}) has {width} field(s) but most rows have "
                         f"{usual} ({what}-separated). Remove title or note lines above the header, or fix "
                         f"line {first_line}.")
    parts = [f"line {line} has {n}" + (" field(s)" if i == 0 else "") for i, (line, n) in enumerate(odd[:_LISTED])]
    more = f" and {len(odd) - _LISTED} more" if len(odd) > _LISTED else ""
    first = "the header has" if has_header else f"the first row (line {first_line}) has"
    return DataError(f"{where} (read as {what}-separated): {', '.join(parts)}{more}; {first} {width}. "
                     f"Fix those lines (a missing or extra delimiter, or an unquoted {what} in a text field).")
