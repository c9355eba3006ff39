"""The SMILES priors: sampling, likelihoods, training, checkpoints and the shipped prior."""

import json

from types import SimpleNamespace

import pytest
import torch

from gentoolkit.checkpoint import save_checkpoint
from gentoolkit.errors import CheckpointError, GentoolkitError
from gentoolkit.runtime import Runtime, RuntimeOptions
from gentoolkit_molecules.data import standardise
from gentoolkit_molecules.prior import Prior
from gentoolkit_molecules.tokenizer import TokenizerError, Vocabulary
from gentoolkit_molecules.training import train_prior

SMILES = ["CCO", "CCN", "c1ccccc1", "CC(=O)O", "CCCl", "c1ccncc1", "CC(C)O", "OCCO", "NCCN", "CCOC"] * 4
TINY = {"lstm": dict(embedding=8, hidden=16, layers=2), "gru": dict(embedding=8, hidden=16, layers=1),
        "transformer": dict(embedding=16, layers=2, heads=2, block_size=32)}


def tiny(kind="lstm"):
    torch.manual_seed(0)
    prior = Prior.create(Vocabulary.from_smiles(SMILES), kind, **TINY[kind])
    prior.network.eval()
    return prior


def runtime(tmp_path):
    return Runtime(RuntimeOptions(device="cpu", seed=0, out=tmp_path, progress=False), task="prior").start()


@pytest.mark.parametrize("kind", ["lstm", "gru", "transformer"])
def test_sampling_reproduces_and_matches_log_likelihood(kind):
    prior = tiny(kind)
    a = prior.sample_sequences(16, generator=torch.Generator().manual_seed(3), max_length=20)
    b = prior.sample_sequences(16, generator=torch.Generator().manual_seed(3), max_length=20)
    assert a.smiles == b.smiles and torch.equal(a.sequences, b.sequences)
    assert a.sequences[:, 0].eq(prior.vocabulary.start).all()
    assert a.log_likelihood.shape == (16,) and a.log_likelihood.requires_grad
    torch.testing.assert_close(prior.log_likelihood(a.sequences), a.log_likelihood, rtol=1e-4, atol=1e-4)


def test_sequences_are_padded_after_end():
    prior = tiny()
    samples = prior.sample_sequences(32, generator=torch.Generator().manual_seed(0), max_length=30)
    vocab = prior.vocabulary
    for row, smiles in zip(samples.sequences.tolist(), samples.smiles):
        if vocab.end in row:
            end = row.index(vocab.end)
            assert all(t == vocab.pad for t in row[end + 1:])
            assert vocab.decode(row) == smiles


def test_encode_pads_and_rejects_unknown_tokens():
    prior = tiny()
    ids = prior.encode(["CCO", "c1ccccc1"])
    assert ids.shape == (2, 10) and ids[0, 4] == prior.vocabulary.end and ids[0, 5:].eq(prior.vocabulary.pad).all()
    with pytest.raises(TokenizerError, match="'Br'"):
        prior.encode(["CCBr"])


def test_create_rejects_unknown_kind_and_size():
    vocabulary = Vocabulary.from_smiles(SMILES)
    with pytest.raises(GentoolkitError, match="Unknown prior kind 'rnn'"):
        Prior.create(vocabulary, "rnn")
    with pytest.raises(GentoolkitError, match=r"Unknown size option\(s\) \['heads'\]"):
        Prior.create(vocabulary, "lstm", heads=2)
    assert Prior.create(vocabulary).config == {"kind": "lstm", "embedding": 256, "hidden": 512, "layers": 3,
                                               "dropout": 0.0}


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_training_lowers_nll_and_resumes(tmp_path, kind):
    prior = tiny(kind)
    before = -prior.log_likelihood(prior.encode(SMILES)).mean().item()
    history = train_prior(prior, SMILES, runtime(tmp_path), epochs=3, batch_size=8, lr=1e-2, valid_fraction=0.1)
    assert [row["epoch"] for row in history] == [1, 2, 3]
    after = -prior.log_likelihood(prior.encode(SMILES)).mean().item()
    assert after < before - 1.0
    assert history[-1]["train_nll"] < history[0]["train_nll"]
    resumed = tiny(kind)
    more = train_prior(resumed, SMILES, runtime(tmp_path), epochs=4, batch_size=8, lr=1e-2, valid_fraction=0.1)
    assert len(more) == 4 and more[:3] == history
    assert Prior.load(tmp_path / "prior").config == prior.config


def test_a_time_limit_decays_the_learning_rate_within_it(tmp_path, monkeypatch):
    """A run cut short by ``time_limit`` must still end at the schedule's floor (a tenth of ``lr``), not mid-way."""
    import gentoolkit_molecules.training as training

    clock = iter(range(0, 10_000, 10))  # every reading of the clock is 10 s later than the last
    monkeypatch.setattr(training, "time", SimpleNamespace(monotonic=lambda: float(next(clock))))
    history = train_prior(tiny(), SMILES * 4, runtime(tmp_path), epochs=1, batch_size=8, lr=1e-2,
                          valid_fraction=0.0, time_limit=35.0)
    assert history[0]["step"] < len(SMILES * 4) // 8  # stopped by the time limit
    assert 1e-3 <= history[0]["lr"] < 1.5e-3  # near the floor; without the time term it would be ~1e-2


def test_fine_tuning_leaves_out_unknown_tokens(tmp_path):
    prior = tiny()
    with pytest.raises(GentoolkitError, match="No molecule left to train on"):
        train_prior(prior, ["CCBr", "BrCBr"], runtime(tmp_path), epochs=1, valid_fraction=0.0)
    history = train_prior(prior, ["CCBr"] + SMILES, runtime(tmp_path / "b"), epochs=1, valid_fraction=0.0)
    assert history[0]["molecules"] == len(SMILES)


@pytest.mark.parametrize("kind", ["gru", "transformer"])
def test_save_load_round_trip(tmp_path, kind):
    prior = tiny(kind)
    path = prior.save(tmp_path / "p", card={"note": "test"})
    loaded = Prior.load(path)
    ids = prior.encode(SMILES[:10])
    assert torch.equal(prior.log_likelihood(ids), loaded.log_likelihood(ids))
    assert loaded.vocabulary == prior.vocabulary and loaded.config == prior.config
    assert loaded.card == {"note": "test"}
    assert torch.equal(prior.copy().log_likelihood(ids), prior.log_likelihood(ids))


def test_corrupt_or_foreign_checkpoints_are_refused(tmp_path):
    prior = tiny()
    prior.save(tmp_path / "p")
    (tmp_path / "p.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        Prior.load(tmp_path / "p")
    save_checkpoint(tmp_path / "other", {"w": torch.zeros(2)}, {"model": "image-vae"})
    with pytest.raises(CheckpointError, match="made for another model"):
        Prior.load(tmp_path / "other")
    prior.save(tmp_path / "q")
    document = json.loads((tmp_path / "q.json").read_text())
    document["metadata"]["config"]["hidden"] = 32
    (tmp_path / "q.json").write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match="does not fit its own config"):
        Prior.load(tmp_path / "q")


def test_shipped_prior_samples_valid_molecules():
    prior = Prior.load()
    prior.network.eval()
    with torch.no_grad():
        samples = prior.sample_sequences(200, generator=torch.Generator().manual_seed(0))
    valid = [s for s in samples.smiles if standardise(s) is not None]
    assert len(valid) / 200 > 0.8
    assert prior.card["metrics"]["validity"] > 0.8


def test_token_log_probs_add_up_and_the_core_loop_fine_tunes_the_prior(tmp_path):
    from gentoolkit.protocols import TokenDensity, Trainable
    from gentoolkit.training import fit

    prior = tiny("gru")
    tokens = prior.token_log_probs(["CCO", "c1ccncc1"])
    assert isinstance(prior, TokenDensity) and isinstance(prior, Trainable)
    assert [words for words, _ in tokens] == [["C", "C", "O", "<end>"], ["c", "1", "c", "c", "n", "c", "c", "1", "<end>"]]
    torch.testing.assert_close(torch.stack([v.sum() for _, v in tokens]), prior.log_prob(["CCO", "c1ccncc1"]))
    before = float(prior.log_prob(SMILES).mean())
    with runtime(tmp_path) as run:
        history = fit(prior, SMILES, run, epochs=5, batch_size=8, resume=False)
    assert history[-1]["nll"] < history[0]["nll"] and float(prior.log_prob(SMILES).mean()) > before + 1
