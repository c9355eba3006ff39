"""Tables: the bundled scikit-learn sets, a user's CSV, the split, and bad CSVs."""

from __future__ import annotations

import numpy as np
import pytest

from gentoolkit import GentoolkitError


def test_bundled_tables_split_deterministically_and_stratified(kit):
    train = kit.load_dataset("breast-cancer", split="train")
    test = kit.load_dataset("breast-cancer", split="test")
    again = kit.load_dataset("breast-cancer", split="train")
    assert (len(train), len(test)) == (398, 171) and train.classes == ["malignant", "benign"]
    np.testing.assert_array_equal(train.features, again.features)
    assert not {tuple(r) for r in train.features} & {tuple(r) for r in test.features}
    assert abs(train.labels.mean() - test.labels.mean()) < 0.01  # same class shares on both sides
    other = kit.load_dataset("breast-cancer", split="train", seed=1)
    assert not np.array_equal(other.features, train.features)
    wine = kit.load_dataset("wine", split="all")
    assert wine.item_spec.shape == (13,) and len(wine.item_spec.classes) == 3 and len(wine) == 178


def test_items_are_feature_vectors_and_labels(kit):
    train = kit.load_dataset("wine", split="train")
    x, y = train[0]
    assert x.shape == (13,) and x.dtype.is_floating_point and int(y) == train.labels[0]


def test_csv_infers_categorical_columns_and_takes_overrides(kit, mixed, tmp_path):
    kinds = {c.name: c.kind for c in mixed.columns}
    assert kinds == {"x": "numeric", "y": "numeric", "count": "numeric", "colour": "categorical"}
    assert mixed.columns[2].integer and mixed.columns[3].categories == ("blue", "green", "red")
    assert mixed.classes == ["no", "yes"]
    frame = mixed.frame()
    assert set(frame["colour"]) <= {"blue", "green", "red"} and list(frame.columns)[-1] == "label"
    path = tmp_path / "codes.csv"
    path.write_text("a,b,y\n1,0.5,p\n2,0.1,q\n1,0.3,p\n3,0.2,q\n")
    table = kit.load_dataset("csv", path=str(path), label="y", categorical=["a"])
    assert [c.kind for c in table.columns] == ["categorical", "numeric"]
    assert table.columns[0].categories == ("1", "2", "3")


@pytest.mark.parametrize("text, label, match", [
    ("", "label", "is empty"),
    ("a,b,label\n", "label", "no data rows"),
    ("a,b,target\n1,2,x\n3,4,y\n", "label", "no label column 'label'.*a, b, target"),
    ("a,b,label\n" + "".join(f"{i},{i * 2},{'xy'[i % 2]}\n" for i in range(30)) + "3,oops,x\n", "label",
     r"column 'b'.*'oops' at line 32"),
    ("a,b,label\n1,2,x\n3,4,x\n5,6,x\n", "label", "one class"),
])
def test_bad_csvs_are_refused_naming_the_file_and_column(kit, tmp_path, text, label, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(GentoolkitError, match=match) as err:
        kit.load_dataset("csv", path=str(path), label=label)
    assert "bad.csv" in str(err.value)


def test_missing_file_and_unknown_override_column_are_refused(kit, tmp_path):
    with pytest.raises(GentoolkitError, match="does not exist"):
        kit.load_dataset("csv", path=str(tmp_path / "nope.csv"))
    path = tmp_path / "t.csv"
    path.write_text("a,label\n1,x\n2,y\n")
    with pytest.raises(GentoolkitError, match="'zz' is not a feature column"):
        kit.load_dataset("csv", path=str(path), categorical=["zz"])


def test_rows_with_empty_cells_are_skipped_with_a_warning_or_refused_when_strict(kit, tmp_path):
    from gentoolkit.errors import SkippedInputWarning

    path = tmp_path / "gaps.csv"
    path.write_text("a,b,label\n1,2,x\n3,,y\n5,6,x\n7,8,y\n")
    with pytest.warns(SkippedInputWarning, match="line 3: column 'b' is empty"):
        table = kit.load_dataset("csv", path=str(path))
    assert len(table) == 3
    with pytest.raises(GentoolkitError, match="line 3"):
        kit.load_dataset("csv", path=str(path), strict=True)


def test_a_class_too_small_to_stratify_is_named(kit, tmp_path):
    path = tmp_path / "small.csv"
    path.write_text("a,label\n" + "".join(f"{i},x\n" for i in range(10)) + "99,y\n")
    with pytest.raises(GentoolkitError, match="class 'y' has 1 row"):
        kit.load_dataset("csv", path=str(path), split="train")
