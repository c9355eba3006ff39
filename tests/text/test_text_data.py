"""Corpus readers, the held-out split and token blocks."""

from __future__ import annotations

import json

import pytest

from gentoolkit.errors import SkippedInputWarning
from gentoolkit_text.data import (TextDataError, pydoc_topics, read_jsonl, read_text_files, split_holdout,
                                  token_blocks, token_stream)


def test_text_folder_reads_every_text_file_in_order(tmp_path):
    (tmp_path / "b.txt").write_text("second")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.md").write_text("third")
    (tmp_path / "a.txt").write_text("first")
    (tmp_path / "skip.bin").write_bytes(b"\x00\x01")
    assert read_text_files(tmp_path) == ["first", "second", "third"]


def test_a_bad_file_in_a_folder_is_skipped_and_reported_by_name_or_refused_when_strict(tmp_path):
    (tmp_path / "ok.txt").write_text("words")
    (tmp_path / "blank.txt").write_text("  \n")
    with pytest.warns(SkippedInputWarning, match=r"1 of 2 files .* the first, at file blank\.txt: .*blank\.txt is empty"):
        assert read_text_files(tmp_path) == ["words"]
    with pytest.raises(TextDataError, match=r"blank\.txt is empty.*turn strict off"):
        read_text_files(tmp_path, strict=True)


def test_non_utf8_file_is_reported_by_name(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("café".encode("latin-1"))
    with pytest.raises(TextDataError, match=r"latin\.txt is not UTF-8"):
        read_text_files(path)


def test_missing_path_and_folder_without_text(tmp_path):
    with pytest.raises(TextDataError, match="No text file or folder"):
        read_text_files(tmp_path / "nope")
    with pytest.raises(TextDataError, match="holds no text files"):
        read_text_files(tmp_path)


def test_jsonl_reads_field_and_names_bad_lines(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"text": "one"}) + "\n\n" + json.dumps({"body": "two", "text": "three"}) + "\n")
    assert read_jsonl(path) == ["one", "three"]
    path.write_text(json.dumps({"text": "one"}) + "\n" + json.dumps({"body": "two"}) + "\n" + '{"text": \n')
    with pytest.warns(SkippedInputWarning, match=r"2 of 3 lines in .*d\.jsonl .* at line 2: no string field 'text'"):
        assert read_jsonl(path) == ["one"]
    with pytest.raises(TextDataError, match=r"d\.jsonl .* at line 2: no string field 'text'.*turn strict off"):
        read_jsonl(path, strict=True)
    path.write_text('{"text": \n')
    with pytest.raises(TextDataError, match=r"at line 1: not valid JSON.*Nothing usable is left"):
        read_jsonl(path)


def test_pydoc_topics_is_embedded():
    docs = pydoc_topics()
    assert len(docs) > 50 and sum(map(len, docs)) > 100_000


def test_holdout_split_is_seeded_and_disjoint():
    docs = [f"doc {i}" for i in range(20)]
    train, held = split_holdout(docs, 0.1, seed=3)
    assert len(held) == 2 and sorted(train + held) == sorted(docs)
    assert split_holdout(docs, 0.1, seed=3) == (train, held)
    assert split_holdout(docs, 0.1, seed=4) != (train, held)
    with pytest.raises(TextDataError, match="at least two documents"):
        split_holdout(["only"], 0.1)


def test_token_stream_ends_documents_and_blocks_shift(tokenizer):
    ids = token_stream(["ab", "cd"], tokenizer)
    assert ids.count(tokenizer.eos_token_id) == 2 and ids[-1] == tokenizer.eos_token_id
    blocks = token_blocks(list(range(11)), 4)
    assert blocks.tolist() == [[0, 1, 2, 3, 4], [4, 5, 6, 7, 8]]
    assert token_blocks(list(range(11)), 4, stride=2).shape == (4, 5)
    with pytest.raises(TextDataError, match="fewer than one block"):
        token_blocks([1, 2, 3], 4)
