"""Tests for engine.data.tables: small CSV/TSV files written inside tmp_path; no network, no TensorFlow."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.core.errors import DataError
from engine.data.table_features import TableEncoding, TableOptions, apply_encoding, numeric_matrix, prepare
from engine.data.tables import parse_table_text, read_table


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def table(tmp_path: Path, text: str, name: str = "data.csv"):
    return read_table(write(tmp_path, text, name))


# --------------------------------------------------------------------------- reading

@pytest.mark.parametrize("delimiter, name", [(",", "a.csv"), ("\t", "a.tsv"), (";", "a.csv"), ("\t", "a.txt")])
def test_sniffs_the_delimiter(tmp_path, delimiter, name):
    rows = [["amount", "hour", "shop"], ["1.5", "3", "north"], ["2.5", "4", "south"], ["3", "5", "north"]]
    t = table(tmp_path, "\n".join(delimiter.join(r) for r in rows) + "\n", name)
    assert t.delimiter == delimiter
    assert t.names == ("amount", "hour", "shop")
    assert t.cells.shape == (3, 3) and t.cells[1, 2] == "south"
    assert t.numeric_columns() == ["amount", "hour"] and t.text_columns() == ["shop"]


def test_semicolon_with_decimal_commas(tmp_path):
    t = table(tmp_path, "a;b\n1,5;2\n2,5;3\n")
    assert t.delimiter == ";" and t.cells[0, 0] == "1,5"


def test_header_detected_from_numeric_columns(tmp_path):
    t = table(tmp_path, "x,y\n1,2\n3,4\n")
    assert t.has_header and t.names == ("x", "y") and t.first_line == 2 and t.n_rows == 2


def test_no_header_when_the_first_row_is_data(tmp_path):
    t = table(tmp_path, "1,2\n3,4\n5,6\n")
    assert not t.has_header
    assert t.names == ("column 1", "column 2") and t.first_line == 1 and t.n_rows == 3


def test_single_column_file(tmp_path):
    t = table(tmp_path, "value\n1\n2.5\n-3\n")
    assert t.names == ("value",) and t.n_rows == 3
    assert numeric_matrix(t, ["value"])[:, 0].tolist() == [1.0, 2.5, -3.0]


def test_all_text_table_header_rule(tmp_path):
    assert table(tmp_path, "name,colour\nalice,red\nbob,blue\n").has_header
    repeated = table(tmp_path, "x,x\nalice,red\nbob,blue\n", "b.csv")  # repeated first-row cells: data
    assert not repeated.has_header and repeated.n_rows == 3


def test_duplicate_and_empty_header_names_made_unique(tmp_path):
    t = table(tmp_path, "x,x,,y\n1,2,3,4\n")
    assert t.names == ("x", "x (2)", "column 3", "y")


def test_quoted_fields_with_commas(tmp_path):
    t = table(tmp_path, 'id,note,amount\n1,"red, large",3.5\n2,"say ""hi""",4\n')
    assert t.cells[0].tolist() == ["1", "red, large", "3.5"]
    assert t.cells[1, 1] == 'say "hi"'


def test_blank_lines_skipped_and_line_numbers_kept(tmp_path):
    t = table(tmp_path, "a,b\n\n1,2\n\n\n3,NA\n5,6\n")
    assert t.n_rows == 3 and t.first_line == 3
    assert [t.line_of(i) for i in range(3)] == [3, 6, 7]
    with pytest.raises(DataError, match=r"data\.csv.*'b'.*line 6\b.*imputing"):
        prepare(t, TableOptions())


def test_ragged_rows_are_named(tmp_path):
    path = write(tmp_path, "a,b,c,d\n1,2,3,4\n\n1,2,3\n5,6,7,8\n1,2,3,4,5\n")
    with pytest.raises(DataError) as info:
        read_table(path)
    message = str(info.value)
    assert "data.csv" in message and "line 4 has 3" in message and "line 6 has 5" in message
    assert "the header has 4" in message and "line 2" not in message


def test_trailing_empty_field_is_ragged(tmp_path):
    with pytest.raises(DataError, match="line 3 has 3"):
        table(tmp_path, "a,b\n1,2\n3,4,\n")


def test_many_ragged_lines_are_summarised(tmp_path):
    with pytest.raises(DataError, match=r"line 32 has 3 field\(s\), line 33 has 3.* and 14 more; the header"):
        table(tmp_path, "a,b\n" + "1,2\n" * 30 + "1,2,3\n" * 20)


def test_title_line_above_the_header(tmp_path):
    with pytest.raises(DataError, match=r"first row \(line 1\) has 1 field\(s\) but most rows have 3.*title"):
        table(tmp_path, "Export of 2024\n" + "a,b,c\n" + "1,2,3\n" * 5)


def test_only_a_header(tmp_path):
    with pytest.raises(DataError, match="has a header but no data rows"):
        table(tmp_path, "amount,hour,shop\n\n")


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file(tmp_path, text):
    with pytest.raises(DataError, match="data.csv is empty"):
        table(tmp_path, text)


def test_binary_file_refused(tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(DataError, match=r"photo\.csv is not a text table \(it looks binary.*CSV or TSV"):
        read_table(path)


def test_missing_folder_and_too_big(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a folder"):
        read_table(tmp_path)
    with pytest.raises(DataError, match="smaller file"):
        read_table(write(tmp_path, "a,b\n1,2\n" * 100), max_bytes=100)


def test_latin1_file(tmp_path):
    path = tmp_path / "l1.csv"
    path.write_bytes("ville,n\nMontr\xe9al,1\n".encode("latin-1"))
    assert read_table(path).cells[0, 0] == "Montr\xe9al"


def test_parse_text_without_source():
    t = parse_table_text("a|b\n1|2\n")
    assert t.delimiter == "|" and t.source == "" and t.names == ("a", "b")
    with pytest.raises(DataError, match="no column 'z'.*'a', 'b'"):
        t.column("z")


# --------------------------------------------------------------------------- prepare

def test_text_column_left_out_with_note_or_one_hot(tmp_path):
    t = table(tmp_path, "amount,colour\n1,red\n2,blue\n3,red\n")
    plain = prepare(t, TableOptions(features=("amount", "colour")))
    assert plain.feature_names == ("amount",) and plain.x.tolist() == [[1.0], [2.0], [3.0]]
    assert any("Left out text column(s) colour: turn on one-hot encoding" in n for n in plain.notes)
    hot = prepare(t, TableOptions(features=("amount", "colour"), one_hot=True))
    assert hot.feature_names == ("amount", "colour=blue", "colour=red")
    assert hot.x.tolist() == [[1, 0, 1], [2, 1, 0], [3, 0, 1]] and hot.x.dtype == np.float64


def test_default_features_are_numeric_columns_except_label(tmp_path):
    t = table(tmp_path, "a,b,y,c\n1,2,0,x\n3,4,1,z\n5,6,0,x\n")
    p = prepare(t, TableOptions(label="y"))
    assert p.feature_names == ("a", "b")
    with_label = prepare(t, TableOptions(features=("a", "y"), label="y"))
    assert with_label.feature_names == ("a",) and any("'y' is not used as a feature" in n for n in with_label.notes)


def test_one_hot_refuses_id_like_columns(tmp_path):
    text = "id,v\n" + "".join(f"user{i},{i}\n" for i in range(60))
    with pytest.raises(DataError, match="'id' has 60 different values.*ID"):
        prepare(table(tmp_path, text), TableOptions(features=("id", "v"), one_hot=True))


def test_unknown_feature_or_label(tmp_path):
    t = table(tmp_path, "a,b\n1,2\n")
    with pytest.raises(DataError, match="no column.*'zz'.*'a', 'b'"):
        prepare(t, TableOptions(features=("a", "zz")))
    with pytest.raises(DataError, match="no column 'q'"):
        prepare(t, TableOptions(label="q"))


def test_no_usable_feature(tmp_path):
    with pytest.raises(DataError, match="no usable feature.*one-hot"):
        prepare(table(tmp_path, "name,colour\nal,red\nbo,blue\n"), TableOptions())


def test_missing_values_refused_naming_lines(tmp_path):
    t = table(tmp_path, "a,b,c\n1,2,x\n?,3,y\n4,,y\n5,6,\n")
    with pytest.raises(DataError) as info:
        prepare(t, TableOptions(features=("a", "b")))
    message = str(info.value)
    assert "'a' (1)" in message and "'b' (1)" in message and "lines 3, 4" in message and "line 5" not in message


def test_impute_median_fitted_on_fit_rows_only(tmp_path):
    t = table(tmp_path, "a,c\n1,x\n2,y\n3,y\nNA,\n100,x\n1000,x\n")
    fit = np.array([True, True, True, True, False, False])
    p = prepare(t, TableOptions(features=("a", "c"), impute=True, one_hot=True), fit_rows=fit)
    assert p.encoding.fill == {"a": 2.0, "c": "y"}  # median of 1, 2, 3 (not of 1..1000); y wins on fit rows
    assert p.x[3].tolist() == [2.0, 0.0, 1.0]
    assert any("Filled 2 missing cell(s)" in n and "'a'" in n and "'c'" in n for n in p.notes)
    by_index = prepare(t, TableOptions(features=("a",), impute=True), fit_rows=np.array([4, 5]))
    assert by_index.encoding.fill["a"] == 550.0


def test_column_empty_on_fit_rows_refused(tmp_path):
    t = table(tmp_path, "a,b\n1,\n2,\n3,4\n")
    with pytest.raises(DataError, match="'b' have no values on the 2 training rows"):
        prepare(t, TableOptions(features=("a", "b"), impute=True), fit_rows=np.array([0, 1]))


def test_constant_column_passes_through(tmp_path):
    p = prepare(table(tmp_path, "a,k\n1,7\n2,7\n3,7\n"), TableOptions())
    assert p.x[:, 1].tolist() == [7.0, 7.0, 7.0] and p.feature_names == ("a", "k")


# --------------------------------------------------------------------------- labels

@pytest.mark.parametrize("values, anomalous", [
    (["0", "1", "0", "1"], "1"),
    (["0.0", "1.0", "1", "1"], "1"),
    (["1", "-1", "1", "1"], "-1"),
    (["-1", "1", "-1", "-1"], "-1"),
    (["normal", "fraud", "fraud", "fraud"], "fraud"),
    (["ok", "Abnormal", "ok", "ok"], "Abnormal"),
    (["False", "True", "True", "True"], "True"),
    (["yes", "no", "no", "no"], "yes"),
    (["a", "b", "b", "b"], "a"),  # rarer value
    (["b", "a", "b", "a"], "b"),  # tie: later in sorted order
])
def test_label_rules(tmp_path, values, anomalous):
    t = table(tmp_path, "x,y\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)))
    p = prepare(t, TableOptions(label="y"))
    assert p.encoding.anomaly_value == anomalous
    expected = [int(v == anomalous or (v.replace(".0", "") == anomalous)) for v in values]
    assert p.labels.tolist() == expected and p.labels.dtype == np.int8
    assert any(f"'{anomalous}' is taken as anomalous ({sum(expected)} of 4 rows)" in n for n in p.notes)


def test_label_with_more_than_two_values(tmp_path):
    t = table(tmp_path, "x,y\n1,a\n2,b\n3,c\n4,d\n5,e\n")
    with pytest.raises(DataError, match=r"'y' has 5 different values \(a, b, c, \.\.\.\).*Choose another label"):
        prepare(t, TableOptions(label="y"))


def test_label_with_one_value(tmp_path):
    p = prepare(table(tmp_path, "x,y\n1,ok\n2,ok\n"), TableOptions(label="y"))
    assert p.labels is None and p.encoding.anomaly_value is None
    assert "Label column 'y' has only one value ('ok'): every row is treated alike; ROC curves need both classes." \
        in p.notes


def test_missing_label_cells_named(tmp_path):
    with pytest.raises(DataError, match="label column 'y' has missing values on line 3"):
        prepare(table(tmp_path, "x,y\n1,0\n2,\n3,1\n"), TableOptions(label="y"))


# --------------------------------------------------------------------------- scoring

def fitted(tmp_path: Path):
    t = table(tmp_path, "amount,colour,y\n1,red,0\n2,blue,0\n3,red,1\n", "train.csv")
    return prepare(t, TableOptions(features=("amount", "colour"), label="y", one_hot=True, impute=True))


def test_apply_encoding_extra_column_and_unknown_category(tmp_path):
    p = fitted(tmp_path)
    other = table(tmp_path, "extra,colour,amount,y\nz,green,5,1\nz,blue,,0\n", "score.csv")
    x, labels = apply_encoding(other, p.encoding)
    assert x.tolist() == [[5, 0, 0], [2, 1, 0]]  # green -> all zero; missing amount -> median 2
    assert labels.tolist() == [1, 0]
    x_only, no_labels = apply_encoding(table(tmp_path, "amount,colour\n4,red\n", "nolabel.csv"), p.encoding)
    assert x_only.tolist() == [[4, 0, 1]] and no_labels is None


def test_apply_encoding_missing_column(tmp_path):
    p = fitted(tmp_path)
    with pytest.raises(DataError, match=r"score\.csv lacks column\(s\) 'colour'.*trained on columns 'amount', "):
        apply_encoding(table(tmp_path, "amount,y\n1,0\n", "score.csv"), p.encoding)


def test_apply_encoding_text_in_numeric_column_and_third_label(tmp_path):
    p = fitted(tmp_path)
    with pytest.raises(DataError, match=r"'amount' has text \('lots'\) on line 3"):
        apply_encoding(table(tmp_path, "amount,colour\n1,red\nlots,red\n", "s1.csv"), p.encoding)
    with pytest.raises(DataError, match=r"'y' holds '2' on line 2"):
        apply_encoding(table(tmp_path, "amount,colour,y\n1,red,2\n", "s2.csv"), p.encoding)


def test_apply_encoding_without_impute_refuses_gaps(tmp_path):
    p = prepare(table(tmp_path, "a,b\n1,2\n3,4\n"), TableOptions())
    with pytest.raises(DataError, match="'b' .*line 3.*without imputing"):
        apply_encoding(table(tmp_path, "a,b\n1,2\n5,\n", "s.csv"), p.encoding)


def test_encoding_json_round_trip(tmp_path):
    encoding = fitted(tmp_path).encoding
    again = TableEncoding.from_dict(json.loads(json.dumps(encoding.to_dict())))
    assert again == encoding
    assert again.categories == {"colour": ("blue", "red")} and again.fill == {"amount": 2.0, "colour": "red"}
    assert again.feature_names == ("amount", "colour=blue", "colour=red") and again.anomaly_value == "1"
    with pytest.raises(DataError, match="damaged"):
        TableEncoding.from_dict({"columns": ["a"]})


# --------------------------------------------------------------------------- sequences

def test_numeric_matrix_gaps_refused_or_interpolated(tmp_path):
    t = table(tmp_path, "t,v,w\n1,,10\n2,2,\n3,,\n4,8,40\n5,9,\n")
    with pytest.raises(DataError, match=r"'v' \(2\), 'w' \(3\).*lines 2, 3, 4, 6.*interpolate"):
        numeric_matrix(t, ["v", "w"])
    m = numeric_matrix(t, ["v", "w"], impute=True)
    assert m.dtype == np.float64 and m.shape == (5, 2)
    assert m[:, 0].tolist() == [2.0, 2.0, 5.0, 8.0, 9.0]  # edge held, linear in between
    assert m[:, 1].tolist() == [10.0, 20.0, 30.0, 40.0, 40.0]


def test_numeric_matrix_refuses_text(tmp_path):
    with pytest.raises(DataError, match=r"'s' has text \('x'\) on line 3.*numeric"):
        numeric_matrix(table(tmp_path, "v,s\n1,2\n2,x\n"), ["v", "s"])


def test_index_columns_are_the_ones_that_only_increase():
    from engine.data.tables import parse_table_text

    table = parse_table_text("t,v,flag\n1,5,0\n2,3,0\n3,4,1\n")
    assert table.index_columns() == ["t"]


def test_a_quote_never_closed_is_named_at_its_line_not_as_too_few_rows():
    with pytest.raises(DataError, match=r"line 3 cannot be read \(unexpected end of data\).*quote is not closed"):
        parse_table_text('a,b\n1,2\n"3,4\n5,6\n7,8\n', "q.csv")


def test_infinite_values_are_called_infinite_not_text():
    from engine.data.table_features import numeric_matrix

    table = parse_table_text("a,b\n1,2\n3,inf\n5,x\n", "i.csv")
    with pytest.raises(DataError) as caught:
        numeric_matrix(table, ["a", "b"])
    message = str(caught.value)
    assert "'b' has infinite values ('inf') on line 3" in message and "'b' has text ('x') on line 4" in message
