"""The atom-level SMILES tokenizer and its vocabulary."""

import pytest

from gentoolkit_molecules.tokenizer import TokenizerError, Vocabulary, tokenize


def test_tokenize_tricky_smiles():
    assert tokenize("ClC1=CC=C(Br)[nH]1") == ["Cl", "C", "1", "=", "C", "C", "=", "C", "(", "Br", ")", "[nH]", "1"]
    assert tokenize("C[C@@H](N)C%10CC%10") == ["C", "[C@@H]", "(", "N", ")", "C", "%10", "C", "C", "%10"]
    assert tokenize("[O-][N+](=O)c1ccsc1") == ["[O-]", "[N+]", "(", "=", "O", ")", "c", "1", "c", "c", "s", "c", "1"]


@pytest.mark.parametrize("smiles", ["ClCCBr", "c1cc[nH]c1", "C[C@@H](O)C(=O)O", "C%10CCCCC%10", "[O-][N+](=O)C"])
def test_round_trip(smiles):
    vocabulary = Vocabulary.from_smiles(["ClCCBr", "c1cc[nH]c1", "C[C@@H](O)C(=O)O", "C%10CCCCC%10", "[O-][N+](=O)C"])
    ids = vocabulary.encode(smiles)
    assert ids[0] == vocabulary.start and ids[-1] == vocabulary.end
    assert vocabulary.decode(ids) == smiles
    assert vocabulary.decode(ids + [vocabulary.pad] * 3) == smiles


def test_special_tokens_and_json_round_trip():
    vocabulary = Vocabulary.from_smiles(["CCO", "c1ccccc1Cl"])
    assert vocabulary.tokens[:3] == ["<pad>", "<start>", "<end>"]
    assert (vocabulary.pad, vocabulary.start, vocabulary.end) == (0, 1, 2)
    assert len(vocabulary) == 3 + len({"C", "O", "c", "1", "Cl"})
    assert Vocabulary.from_json(vocabulary.to_json()) == vocabulary


def test_unknown_token_names_token_and_smiles():
    vocabulary = Vocabulary.from_smiles(["CCO"])
    with pytest.raises(TokenizerError, match=r"Token 'Br' in SMILES 'CCBr'"):
        vocabulary.encode("CCBr")
