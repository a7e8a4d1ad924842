"""Table features: pick, impute and one-hot encode a table's columns and read an anomaly label.

`prepare` fits this on the normal rows and keeps how it did so in a JSON-serialisable
`TableEncoding`, which `apply_encoding` applies again to another file at scoring time;
`numeric_matrix` reads columns as a series for sequence models. Problems the user can fix raise
`DataError` naming the file, the columns and the file's line numbers. No TensorFlow, Qt or pandas.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from engine.core.errors import DataError
from engine.data.tables import Table, _lines, _listing, _quoted  # the message helpers are shared

MAX_CATEGORIES = 50  # one-hot columns with more values than this look like IDs
ANOMALY_WORDS = ("anomaly", "anomalous", "abnormal", "outlier", "fraud", "attack", "defect", "fault", "bad",
                 "positive")


# --------------------------------------------------------------------------- features

@dataclass(frozen=True)
class TableOptions:
    """Which columns to use and how."""

    features: tuple[str, ...] = ()  # empty: every numeric column except the label
    label: str | None = None
    one_hot: bool = False  # one-hot encode chosen text columns instead of leaving them out
    impute: bool = False  # fill missing cells: numeric -> median, text -> most frequent (on the fit rows)


@dataclass(frozen=True)
class TableEncoding:
    """How to turn a table into features; JSON-serialisable, applied again at scoring time."""

    columns: tuple[str, ...]  # source columns used, in order
    numeric: tuple[str, ...]  # which of them are numeric
    categories: dict[str, tuple[str, ...]]  # one-hot column -> its categories (sorted)
    fill: dict[str, float | str]  # imputation value per column ({} when impute is off)
    feature_names: tuple[str, ...]  # output features, e.g. ("amount", "colour=blue", "colour=red")
    label: str | None
    anomaly_value: str | None  # the label value that means "anomalous"
    label_values: tuple[str, ...] = ()  # label values seen when fitting (normal first), for checks at scoring

    def to_dict(self) -> dict[str, Any]:
        """Plain lists, dicts and strings for json.dumps."""
        return {"columns": list(self.columns), "numeric": list(self.numeric),
                "categories": {name: list(values) for name, values in self.categories.items()},
                "fill": dict(self.fill), "feature_names": list(self.feature_names), "label": self.label,
                "anomaly_value": self.anomaly_value, "label_values": list(self.label_values)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TableEncoding:
        """Inverse of to_dict; DataError when the dict is incomplete or damaged."""
        try:
            numeric = tuple(str(name) for name in d["numeric"])
            fill = {str(k): (float(v) if k in numeric else str(v)) for k, v in d.get("fill", {}).items()}
            return cls(tuple(str(c) for c in d["columns"]), numeric,
                       {str(k): tuple(str(v) for v in vs) for k, vs in d.get("categories", {}).items()},
                       fill, tuple(str(f) for f in d["feature_names"]), d.get("label"), d.get("anomaly_value"),
                       tuple(str(v) for v in d.get("label_values", ())))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"The saved table encoding is incomplete or damaged ({type(exc).__name__}: {exc}). "
                            "Train the detector again.") from exc


@dataclass(frozen=True)
class Prepared:
    """Feature matrix (not scaled), labels and how they were made."""

    x: np.ndarray  # (n_rows, n_features) float64
    feature_names: tuple[str, ...]
    labels: np.ndarray | None  # int8, 1 = anomalous, 0 = normal; None without a (two-valued) label column
    encoding: TableEncoding
    notes: tuple[str, ...]  # remarks for the user


def prepare(table: Table, options: TableOptions, fit_rows: np.ndarray | None = None) -> Prepared:
    """Choose, impute and encode feature columns and read the label.

    `fit_rows` (boolean mask or row indices; default all rows) are the rows whose statistics
    (imputation values, one-hot categories) are fitted, normally the normal training rows.
    """
    notes: list[str] = []
    if options.label is not None:
        table.column(options.label)
    fit = _fit_mask(table, fit_rows)
    features = _choose_features(table, options, notes)
    numeric = [name for name in features if table._parsed(name).is_numeric]
    text = [name for name in features if name not in numeric]
    if text and not options.one_hot:
        notes.append(f"Left out text column(s) {', '.join(text)}: turn on one-hot encoding to use them.")
        text = []
    columns = [name for name in features if name in numeric or name in text]
    if not columns:
        numeric_names = _quoted(table.numeric_columns()) or "none"
        raise DataError(f"{table.where}: no usable feature column (numeric columns: {numeric_names}). Choose at "
                        "least one numeric column, or turn on one-hot encoding to use text columns.")
    _check_not_empty(table, columns, fit)
    if not options.impute:
        _refuse_gaps(table, columns, "Turn on imputing missing values to fill them with the column median, "
                                     "or fix the file.")
    fill = _fit_fill(table, columns, fit, notes) if options.impute else {}
    categories = {name: _categories(table, name, fit) for name in text}
    anomaly_value, label_values, labels = _fit_labels(table, options.label, notes)
    encoding = TableEncoding(tuple(columns), tuple(numeric), categories, fill,
                             _feature_names(columns, categories), options.label, anomaly_value, label_values)
    x = _encode(table, encoding)
    return Prepared(x, encoding.feature_names, labels, encoding, tuple(notes))


def _fit_mask(table: Table, fit_rows: np.ndarray | None) -> np.ndarray:
    """fit_rows as a boolean mask over the table's rows."""
    n = table.n_rows
    if fit_rows is None:
        return np.ones(n, dtype=bool)
    rows = np.asarray(fit_rows)
    if rows.dtype == bool:
        if rows.shape != (n,):
            raise ValueError(f"fit_rows is a mask of shape {rows.shape}; the table has {n} rows.")
        mask = rows.copy()
    else:
        mask = np.zeros(n, dtype=bool)
        mask[rows.astype(np.int64)] = True
    if not mask.any():
        raise DataError(f"{table.where}: there are no rows to fit on (fit_rows selects none of the {n} rows). "
                        "Make sure some rows are normal training rows.")
    return mask


def _choose_features(table: Table, options: TableOptions, notes: list[str]) -> list[str]:
    """options.features (checked, without the label) or every numeric column except the label."""
    label = options.label
    if not options.features:
        unused = [name for name in table.text_columns() if name != label and not table._parsed(name).missing.all()]
        if unused:
            notes.append(f"Left out text column(s) {', '.join(unused)}: choose them as features and turn on "
                         "one-hot encoding to use them.")
        return [name for name in table.numeric_columns() if name != label]
    chosen = list(dict.fromkeys(options.features))
    unknown = [name for name in chosen if name not in table.names]
    if unknown:
        raise DataError(f"{table.where} has no column(s) {_quoted(unknown)}; its columns are "
                        f"{_quoted(table.names, 10)}. Choose features among those.")
    if label in chosen:
        chosen.remove(label)
        notes.append(f"The label column '{label}' is not used as a feature.")
    return chosen


def _check_not_empty(table: Table, columns: Sequence[str], fit: np.ndarray) -> None:
    """Refuse columns with no value at all on the fit rows."""
    empty = [name for name in columns if table._parsed(name).missing[fit].all()]
    if empty:
        rows = "rows" if fit.all() else f"{int(fit.sum())} training rows"
        raise DataError(f"{table.where}: column(s) {_quoted(empty)} have no values on the {rows} "
                        "(every cell is missing). Leave them out, or fill them in the file.")


def _refuse_gaps(table: Table, columns: Sequence[str], advice: str) -> None:
    """DataError naming columns and lines with missing cells, if any."""
    gaps = {name: table._parsed(name).missing for name in columns}
    gaps = {name: mask for name, mask in gaps.items() if mask.any()}
    if not gaps:
        return
    counts = [f"'{name}' ({int(mask.sum())})" for name, mask in gaps.items()]
    rows = np.logical_or.reduce(list(gaps.values()))
    raise DataError(f"{table.where}: missing values in column(s) {_listing(counts)}, on "
                    f"{_lines(table.lines_of(rows))}. {advice}")


def _fit_fill(table: Table, columns: Sequence[str], fit: np.ndarray, notes: list[str]) -> dict[str, float | str]:
    """Median (numbers) or most frequent value (text) of each column on the fit rows; note what was filled."""
    fill: dict[str, float | str] = {}
    filled: list[str] = []
    for name in columns:
        parsed = table._parsed(name)
        if parsed.is_numeric:
            fill[name] = float(np.nanmedian(parsed.values[fit]))
            how = f"median {fill[name]:g}"
        else:
            counts = Counter(table.column(name)[fit & ~parsed.missing])
            fill[name] = min(counts, key=lambda value: (-counts[value], value))
            how = f"most frequent '{fill[name]}'"
        if parsed.missing.any():
            filled.append(f"{int(parsed.missing.sum())} in '{name}' ({how})")
    if filled:
        total = sum(int(table._parsed(name).missing.sum()) for name in columns)
        notes.append(f"Filled {total} missing cell(s): {'; '.join(filled)}.")
    return fill


def _categories(table: Table, name: str, fit: np.ndarray) -> tuple[str, ...]:
    """Sorted distinct values of a text column on the fit rows; too many -> DataError."""
    values = sorted(set(table.column(name)[fit & ~table._parsed(name).missing]))
    if len(values) > MAX_CATEGORIES:
        raise DataError(f"{table.where}: column '{name}' has {len(values)} different values on the training rows; "
                        f"one-hot encoding takes at most {MAX_CATEGORIES}. It looks like an ID or free-text "
                        "column: leave it out.")
    return tuple(values)


def _feature_names(columns: Sequence[str], categories: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Column names, with one-hot columns expanded to 'column=value'."""
    names: list[str] = []
    for name in columns:
        names += [f"{name}={value}" for value in categories[name]] if name in categories else [name]
    return tuple(names)


# --------------------------------------------------------------------------- labels

def _label_keys(table: Table, label: str) -> np.ndarray:
    """Label cells as comparable strings (numbers normalised: '1.0' -> '1'); DataError on gaps."""
    parsed = table._parsed(label)
    if parsed.missing.any():
        raise DataError(f"{table.where}: the label column '{label}' has missing values on "
                        f"{_lines(table.lines_of(parsed.missing))}. Fill them in the file, or choose no label.")
    keys = np.empty(table.n_rows, dtype=object)
    for i, (cell, value) in enumerate(zip(table.column(label), parsed.values)):
        keys[i] = cell if math.isnan(value) else (str(int(value)) if value.is_integer() else repr(float(value)))
    return keys


def _two_values(table: Table, label: str, keys: np.ndarray) -> list[str]:
    """The sorted distinct label values; more than two -> DataError."""
    values = sorted(set(keys))
    if len(values) > 2:
        shown = ", ".join(values[:3]) + (", ..." if len(values) > 3 else "")
        raise DataError(f"{table.where}: label column '{label}' has {len(values)} different values ({shown}); "
                        "an anomaly label needs exactly two (normal and anomalous). Choose another label column "
                        "or none.")
    return values


def _anomalous_value(values: Sequence[str], counts: Sequence[int]) -> str:
    """Which of two label values means anomalous (0/1 -> 1, -1/1 -> -1, yes, true, a fraud-like word, rarer)."""
    a, b = values
    if {a, b} in ({"0", "1"}, {"-1", "1"}):
        return "1" if "0" in (a, b) else "-1"
    for yes, no in (("true", "false"), ("yes", "no")):
        if {a.lower(), b.lower()} == {yes, no}:
            return a if a.lower() == yes else b
    hits = [any(word in value.lower() for word in ANOMALY_WORDS) for value in (a, b)]
    if hits[0] != hits[1]:
        return a if hits[0] else b
    if counts[0] != counts[1]:
        return a if counts[0] < counts[1] else b
    return max(a, b)


def _fit_labels(table: Table, label: str | None, notes: list[str]) -> tuple[str | None, tuple[str, ...], Any]:
    """(anomaly value, label values with the normal one first, int8 labels or None)."""
    if label is None:
        return None, (), None
    keys = _label_keys(table, label)
    values = _two_values(table, label, keys)
    if len(values) == 1:
        notes.append(f"Label column '{label}' has only one value ('{values[0]}'): every row is treated alike; "
                     "ROC curves need both classes.")
        return None, (values[0],), None
    anomalous = _anomalous_value(values, [int(np.count_nonzero(keys == v)) for v in values])
    normal = values[0] if anomalous == values[1] else values[1]
    labels = (keys == anomalous).astype(np.int8)
    notes.append(f"Label column '{label}': '{anomalous}' is taken as anomalous ({int(labels.sum())} of "
                 f"{len(labels)} rows), '{normal}' as normal.")
    return anomalous, (normal, anomalous), labels


def _scoring_labels(table: Table, encoding: TableEncoding) -> np.ndarray | None:
    """Labels of a table being scored, with the anomaly value chosen when fitting."""
    label = str(encoding.label)
    keys = _label_keys(table, label)
    if encoding.anomaly_value is None:  # one value (or none) when fitting: decide now
        values = _two_values(table, label, keys)
        if len(values) == 1:
            return None
        seen = [v for v in values if v in encoding.label_values]
        counts = [int(np.count_nonzero(keys == v)) for v in values]
        anomalous = next(v for v in values if v not in seen) if len(seen) == 1 else _anomalous_value(values, counts)
        return (keys == anomalous).astype(np.int8)
    known = set(encoding.label_values) | {encoding.anomaly_value}
    unknown = np.array([key not in known for key in keys], dtype=bool)
    if len(known) > 1 and unknown.any():
        others = sorted(set(keys[unknown]))
        raise DataError(f"{table.where}: label column '{label}' holds {_quoted(others, 3)} on "
                        f"{_lines(table.lines_of(unknown))}, but the detector was trained with only "
                        f"{_quoted(sorted(known))}. Fix those cells, or score the file without its label.")
    return (keys == encoding.anomaly_value).astype(np.int8)


# --------------------------------------------------------------------------- encoding

def apply_encoding(table: Table, encoding: TableEncoding) -> tuple[np.ndarray, np.ndarray | None]:
    """Features (and labels, when the label column is present) of another table, as when fitting."""
    absent = [name for name in encoding.columns if name not in table.names]
    if absent:
        raise DataError(f"{table.where} lacks column(s) {_quoted(absent)}; the detector was trained on columns "
                        f"{_quoted(encoding.columns, 10)}. Choose a file with those columns (the header names "
                        "must match).")
    x = _encode(table, encoding)
    labels = _scoring_labels(table, encoding) if encoding.label and encoding.label in table.names else None
    return x, labels


def _encode(table: Table, encoding: TableEncoding) -> np.ndarray:
    """(n_rows, n_features) float64 from the encoding's columns."""
    advice = ("The detector was trained without imputing missing values: fill those cells, or train again "
              "with imputing missing values turned on.")
    _refuse_gaps(table, [name for name in encoding.columns if name not in encoding.fill], advice)
    blocks = [_numeric_feature(table, name, encoding.fill.get(name))[:, None] if name in encoding.numeric
              else _one_hot(table, name, encoding.categories.get(name, ()), encoding.fill.get(name))
              for name in encoding.columns]
    return np.hstack(blocks).astype(np.float64) if blocks else np.zeros((table.n_rows, 0))


def _numeric_feature(table: Table, name: str, fill: float | str | None) -> np.ndarray:
    """One numeric column as float64, gaps filled; text cells -> DataError."""
    parsed = table._parsed(name)
    if parsed.bad.any():
        raise _text_error(table, [name], "the detector expects numbers there")
    values = parsed.values.copy()
    values[parsed.missing] = float(fill) if fill is not None else np.nan
    return values


def _one_hot(table: Table, name: str, categories: Sequence[str], fill: float | str | None) -> np.ndarray:
    """(n_rows, len(categories)) 0/1; unknown values give an all-zero row."""
    cells = table.column(name).copy()
    cells[table._parsed(name).missing] = "" if fill is None else str(fill)
    index = {value: k for k, value in enumerate(categories)}
    picks = np.array([index.get(cell, -1) for cell in cells], dtype=np.int64)
    out = np.zeros((table.n_rows, len(categories)))
    rows = np.flatnonzero(picks >= 0)
    out[rows, picks[rows]] = 1.0
    return out


def _is_infinite(cell: str) -> bool:
    try:
        return math.isinf(float(cell))
    except ValueError:
        return False


def _text_error(table: Table, names: Sequence[str], why: str) -> DataError:
    """Name columns that hold text, with example cells and their lines."""
    parts = []
    for name in names:
        parsed = table._parsed(name)
        rows = np.flatnonzero(parsed.bad)
        if not len(rows):
            parts.append(f"'{name}' is empty")
            continue
        cells = table.column(name)
        infinite = np.array([_is_infinite(cells[r]) for r in rows], dtype=bool)
        if infinite.any():  # a number, but not one a model can learn from: say so, not "text"
            examples = ", ".join(f"'{cells[r]}'" for r in rows[infinite][:3])
            parts.append(f"'{name}' has infinite values ({examples}) on {_lines(table.lines_of(rows[infinite]))}")
        if not infinite.all():
            examples = ", ".join(f"'{cells[r]}'" for r in rows[~infinite][:3])
            parts.append(f"'{name}' has text ({examples}) on {_lines(table.lines_of(rows[~infinite]))}")
    return DataError(f"{table.where}: column {'; column '.join(parts)}, but {why}. Fix those cells, or choose "
                     "numeric columns.")


# --------------------------------------------------------------------------- sequences

def numeric_matrix(table: Table, columns: Sequence[str], impute: bool = False) -> np.ndarray:
    """(n_rows, len(columns)) float64 of numeric columns; gaps refused, or interpolated along rows with impute."""
    if not columns:
        raise DataError(f"{table.where}: no columns chosen. Choose at least one numeric column.")
    for name in columns:
        table.column(name)
    text = [name for name in columns if not table._parsed(name).is_numeric]
    if text:
        raise _text_error(table, text, "a sequence needs numeric columns")
    if not impute:
        _refuse_gaps(table, columns, "Turn on imputing missing values to interpolate them from the neighbouring rows, "
                                     "or fix the file.")
    out = np.column_stack([table._parsed(name).values for name in columns]).astype(np.float64)
    steps = np.arange(table.n_rows)
    for j in range(out.shape[1]):
        gaps = np.isnan(out[:, j])
        if gaps.any():
            out[gaps, j] = np.interp(steps[gaps], steps[~gaps], out[~gaps, j])  # edges hold the nearest value
    return out
