"""Reading molecule files, the embedded default set and MOSES from a (fake) molsets wheel."""

import gzip
import hashlib
import zipfile

import pytest

from gentoolkit.errors import GentoolkitError
from gentoolkit_molecules import data
from gentoolkit_molecules.data import DataError, load_default, load_moses, read_molecules, standardise


def test_standardise_keeps_largest_fragment_and_canonicalises():
    assert standardise("OC(=O)c1ccccc1.[Na+]") == "O=C(O)c1ccccc1"
    assert standardise("C1=CC=CC=C1") == "c1ccccc1"
    assert standardise("C1CC") is None
    assert standardise("") is None


def test_smi_reports_invalid_lines_and_duplicates(tmp_path):
    path = tmp_path / "mols.smi"
    path.write_text("CCO ethanol\nnot_a_smiles\n\nOCC\nc1ccccc1 benzene\nC1CC\n")
    mols = read_molecules(path)
    assert mols.smiles == ["CCO", "c1ccccc1"]
    assert mols.duplicates == 1
    assert mols.invalid == [(2, "not_a_smiles"), (6, "C1CC")]
    assert "lines 2, 6" in mols.summary()


def test_gzipped_smi_and_txt(tmp_path):
    gz = tmp_path / "mols.smi.gz"
    with gzip.open(gz, "wt") as handle:
        handle.write("CCN\nCCC\n")
    assert read_molecules(gz).smiles == ["CCN", "CCC"]
    txt = tmp_path / "mols.txt"
    txt.write_text("SMILES name\nc1ccncc1 pyridine\n")
    assert read_molecules(txt).smiles == ["c1ccncc1"]


def test_csv_smiles_column_any_case(tmp_path):
    path = tmp_path / "mols.csv"
    path.write_text("id,SMILES,score\n1,CCO,0.5\n2,xx,0.1\n3,CC(=O)O,0.2\n")
    mols = read_molecules(path)
    assert mols.smiles == ["CCO", "CC(=O)O"]
    assert mols.invalid == [(3, "xx")]


def test_csv_without_smiles_column_lists_columns(tmp_path):
    path = tmp_path / "mols.csv"
    path.write_text("id,structure\n1,CCO\n")
    with pytest.raises(DataError, match=r"no 'smiles' column \(columns: id, structure\)"):
        read_molecules(path)


def test_sdf(tmp_path):
    from rdkit import Chem

    path = tmp_path / "mols.sdf"
    writer = Chem.SDWriter(str(path))
    for smiles in ("CCO", "c1ccccc1O"):
        writer.write(Chem.MolFromSmiles(smiles))
    writer.close()
    assert read_molecules(path).smiles == ["CCO", "Oc1ccccc1"]


def test_empty_unreadable_and_all_invalid_files_are_errors(tmp_path):
    empty = tmp_path / "empty.smi"
    empty.write_text("")
    with pytest.raises(DataError, match="empty.smi is empty"):
        read_molecules(empty)
    with pytest.raises(DataError, match="no such file"):
        read_molecules(tmp_path / "missing.smi")
    bad = tmp_path / "bad.smi"
    bad.write_text("xx\nyy\n")
    with pytest.raises(GentoolkitError, match=r"bad.smi: no valid molecule \(2 invalid lines, first at line 1\)"):
        read_molecules(bad)
    broken = tmp_path / "broken.smi.gz"
    broken.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="Cannot read molecules from .*broken.smi.gz"):
        read_molecules(broken)


def test_default_set_is_embedded():
    mols = load_default()
    assert len(mols) == 30_000
    assert not mols.invalid and mols.duplicates == 0


def fake_wheel(path):
    with zipfile.ZipFile(path, "w") as archive:
        for split, rows in {"train": ["CCO", "c1ccccc1", "CCO"], "test": ["CCN"], "test_scaffolds": ["c1ccncc1"]}.items():
            archive.writestr(f"moses/dataset/data/{split}.csv.gz", gzip.compress(("SMILES\n" + "\n".join(rows)).encode()))
    return path


def test_moses_from_wheel_and_cache(tmp_path):
    wheel = fake_wheel(tmp_path / "w.whl")
    train = load_moses("train", wheel=wheel)
    assert train.smiles == ["CCO", "c1ccccc1"] and train.duplicates == 1
    cache = tmp_path / "cache"
    cache.mkdir()
    fake_wheel(cache / data.MOSES_WHEEL)
    assert load_moses("test_scaffolds", cache_dir=cache).smiles == ["c1ccncc1"]
    with pytest.raises(DataError, match="Unknown MOSES split 'valid'"):
        load_moses("valid", wheel=wheel)


def test_moses_missing_wheel_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError, match=r"pip download molsets==0.3.1 --no-deps -d"):
        load_moses("train", cache_dir=tmp_path)


def test_download_checks_sha256(tmp_path):
    source = fake_wheel(tmp_path / "source.whl")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    target = tmp_path / "cache" / data.MOSES_WHEEL
    with pytest.raises(DataError, match="sha256"):
        data.download(source.as_uri(), target, "0" * 64)
    assert not target.exists() and not list(target.parent.iterdir())
    assert data.download(source.as_uri(), target, digest) == target
    assert load_moses("test", cache_dir=target.parent).smiles == ["CCN"]


def test_moses_wheel_download_uses_cache_url(tmp_path, monkeypatch):
    source = fake_wheel(tmp_path / "source.whl")
    monkeypatch.setattr(data, "MOSES_SHA256", hashlib.sha256(source.read_bytes()).hexdigest())
    path = data.moses_wheel(cache=tmp_path / "cache", fetch=True, url=source.as_uri())
    assert path == tmp_path / "cache" / data.MOSES_WHEEL and path.read_bytes() == source.read_bytes()


def test_over_long_smiles_are_refused_with_their_line_before_rdkit_sees_them(tmp_path, monkeypatch):
    from gentoolkit_molecules import data

    path = tmp_path / "big.smi"
    path.write_text("CCO\n" + "C" * 200_000 + "\nCCN\n")
    seen = []
    monkeypatch.setattr(data, "standardise", lambda s: seen.append(s) or s)
    molecules = data.read_molecules(path)
    assert molecules.smiles == ["CCO", "CCN"] and max(map(len, seen)) <= data.MAX_SMILES_CHARS
    (line, text), = molecules.invalid
    assert line == 2 and "200,000 characters; the limit is 2,000" in text and len(text) < 100
