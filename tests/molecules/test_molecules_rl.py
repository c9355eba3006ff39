"""REINVENT-style RL: DAP loss, the agent moving towards the score, diversity filter, budget, resume."""

from __future__ import annotations

import csv

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("rdkit")

from gentoolkit.runtime import Runtime, RuntimeOptions  # noqa: E402
from gentoolkit_molecules.diversity import DiversityFilter  # noqa: E402
from gentoolkit_molecules.prior import Prior  # noqa: E402
from gentoolkit_molecules.rl import Learning, RLConfig, dap_loss, run_stages  # noqa: E402
from gentoolkit_molecules.scoring.function import ScoreResult  # noqa: E402

TRAIN = ["CCO", "CCN", "CCC", "CCCO", "CCCN", "OCCO", "NCCN", "CC(C)O", "CC(N)C", "CCOC", "CNC", "COC",
         "c1ccccc1", "c1ccncc1", "Cc1ccccc1", "Oc1ccccc1", "Nc1ccccc1", "CC(=O)O", "CC(=O)N", "C1CCCCC1",
         "C1CCNCC1", "C1CCOCC1", "CCCCC", "NCCO", "OCCCN", "CCNCC", "COCCN", "CC(C)N"]


@pytest.fixture(scope="module")
def prior(train_tiny_prior) -> Prior:
    torch.set_num_threads(1)
    return train_tiny_prior(TRAIN)


class NitrogenFraction:
    """A toy oracle: the fraction of heavy atoms that are nitrogen. Records every molecule it scores."""

    labels = ["nitrogen"]

    def __init__(self, fail_on_call: int = 0):
        self.seen: list[str] = []
        self.calls = 0
        self.fail_on_call = fail_on_call

    def __call__(self, smiles: list[str]) -> ScoreResult:
        from rdkit import Chem

        self.calls += 1
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt("killed")
        self.seen += smiles
        mols = [Chem.MolFromSmiles(s) for s in smiles]
        values = np.array([sum(a.GetSymbol() == "N" for a in m.GetAtoms()) / m.GetNumAtoms() for m in mols])
        return ScoreResult(list(smiles), np.ones(len(smiles), bool), values, {"nitrogen": values},
                           {"nitrogen": values})


def runtime(tmp_path) -> Runtime:
    return Runtime(RuntimeOptions(device="cpu", seed=0, out=tmp_path, progress=False), task="rl-test").start()


def learning(tmp_path, prior, scoring, **config) -> Learning:
    config = RLConfig(**{"batch_size": 32, "learning_rate": 1e-3, "sigma": 60.0, "replay_sample": 4, **config})
    return Learning(runtime(tmp_path), prior, prior.copy(), scoring, config, DiversityFilter("none"))


def read_log(path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_dap_gradient_raises_likelihood_more_for_higher_scores():
    agent = torch.zeros(3, requires_grad=True)
    loss = dap_loss(agent, torch.zeros(3), torch.tensor([0.0, 0.5, 1.0]), sigma=10.0)
    loss.sum().backward()
    # gradient descent moves agent logL by -grad: up for scored molecules, most for the best
    step = -agent.grad
    assert step[0] == 0 and 0 < step[1] < step[2]
    assert loss.tolist() == pytest.approx([0.0, 25.0, 100.0])


def test_agent_moves_towards_the_score(tmp_path, prior):
    run = learning(tmp_path, prior, NitrogenFraction(), max_steps=30, learning_rate=5e-3)
    run.run()
    means = [h["mean_score"] for h in run.history]
    assert len(means) == 30
    assert np.mean(means[-5:]) > np.mean(means[:3]) + 0.07, means
    n_rich = prior.encode(["NCCN", "CCCCC"])
    gain = run.agent.log_likelihood(n_rich) - prior.log_likelihood(n_rich)
    assert gain[0] > gain[1]  # the agent now prefers the nitrogen-rich molecule more than the prior did
    # the prior is untouched: only the agent learned
    assert all(not p.requires_grad for p in run.prior.network.parameters())


def test_diversity_filter_zeroes_molecules_beyond_their_scaffold_bucket():
    df = DiversityFilter("IdenticalMurckoScaffold", bucket_size=2, minscore=0.5)
    smiles = ["Cc1ccccc1", "Oc1ccccc1", "CCc1ccccc1", "C1CCNCC1", "Nc1ccccc1", None]
    scores = np.array([0.9, 0.8, 0.7, 0.9, 0.3, 0.0])
    # three benzene-scaffold molecules above minscore: the third is beyond the bucket of 2;
    # aniline is below minscore, so it keeps its score and takes no place in the bucket
    assert df(smiles, scores).tolist() == [0.9, 0.8, 0.0, 0.9, 0.3, 0.0]
    assert len(df.buckets["c1ccccc1"]) == 3
    # seen again: the same verdicts, and the bucket does not grow
    assert df(["Oc1ccccc1", "CCc1ccccc1"], np.array([0.8, 0.7])).tolist() == [0.8, 0.0]
    restored = DiversityFilter("IdenticalMurckoScaffold", bucket_size=2, minscore=0.5)
    restored.load_state_dict(df.state_dict())
    assert restored(["CCc1ccccc1", "Cc1ccccc1", "Fc1ccccc1"], np.array([0.7, 0.9, 0.9])).tolist() == [0.0, 0.9, 0.0]


def test_topological_filter_groups_scaffolds_by_graph():
    df = DiversityFilter("IdenticalTopologicalScaffold", bucket_size=1, minscore=0.0)
    # benzene and pyridine have the same generic scaffold (a six-ring)
    assert df(["Cc1ccccc1", "Cc1ccncc1"], np.array([1.0, 1.0])).tolist() == [1.0, 0.0]


def test_budget_counts_unique_valid_molecules_and_stops_exactly(tmp_path, prior):
    scoring = NitrogenFraction()
    run = learning(tmp_path, prior, scoring, max_steps=50, max_oracle_calls=37)
    result = run.run()
    assert result.oracle_calls == 37 and "budget" in result.reason
    assert len(scoring.seen) == 37 and len(set(scoring.seen)) == 37  # never re-scored
    rows = read_log(tmp_path / "molecules.csv")
    assert [r["smiles"] for r in rows] == scoring.seen
    assert len(run.cache) == 37
    assert not any(h["budget_cut"] for h in result.history[:-1])


def test_a_batch_cut_by_the_budget_is_flagged(tmp_path, prior):
    run = learning(tmp_path, prior, NitrogenFraction(), max_steps=5, max_oracle_calls=2)
    scores, scored, new, cut = run._score(["CCO", "CCN", "CCC"])
    assert cut and new.smiles == ["CCO", "CCN"] and scored.tolist() == [True, True, False]
    assert run._score(["CCO", "CCN"])[3] is False  # repeats cost nothing, so nothing is cut


def test_repeated_molecules_are_not_charged(tmp_path, prior):
    scoring = NitrogenFraction()
    # one molecule dominates a cold sample: most of a batch repeats what was scored before
    run = learning(tmp_path, prior, scoring, max_steps=4, temperature=0.3, unique_sequences=False)
    run.run()
    valid_sampled = sum(h["validity"] * h["sampled"] for h in run.history)
    assert len(scoring.seen) == len(set(scoring.seen)) == len(run.cache)
    assert len(scoring.seen) < valid_sampled / 2


@pytest.mark.parametrize("kill_at, checkpoint_every", [(4, 2), (2, 5)])
def test_killed_run_resumes_without_losing_or_repeating_molecules(tmp_path, prior, kill_at, checkpoint_every):
    whole = learning(tmp_path / "whole", prior, NitrogenFraction(), max_steps=6, checkpoint_every=checkpoint_every)
    whole.run()
    expected = read_log(tmp_path / "whole" / "molecules.csv")

    killed = learning(tmp_path / "killed", prior, NitrogenFraction(fail_on_call=kill_at), max_steps=6,
                      checkpoint_every=checkpoint_every)
    with pytest.raises(KeyboardInterrupt):
        killed.run()  # dies while scoring step `kill_at`, after the CSV got steps before it
    partial = read_log(tmp_path / "killed" / "molecules.csv")
    assert {r["step"] for r in partial} == {str(s) for s in range(1, kill_at)}

    resumed = learning(tmp_path / "killed", prior, NitrogenFraction(), max_steps=6, checkpoint_every=checkpoint_every)
    last_checkpoint = (kill_at - 1) // checkpoint_every * checkpoint_every
    assert resumed.step == last_checkpoint and len(resumed.cache) == len(partial)
    resumed.run()
    got = read_log(tmp_path / "killed" / "molecules.csv")
    assert [(r["step"], r["smiles"], r["score"]) for r in got] == [(r["step"], r["smiles"], r["score"])
                                                                  for r in expected]
    assert len({r["smiles"] for r in got}) == len(got)
    assert resumed.history == whole.history


def test_stages_carry_the_agent_and_stop_at_their_threshold(tmp_path, prior):
    rt = runtime(tmp_path)
    stages = [("first", RLConfig(batch_size=16, max_steps=20, score_threshold=0.01, replay_sample=2),
               NitrogenFraction()),
              ("second", RLConfig(batch_size=16, max_steps=2, replay_sample=2), NitrogenFraction())]
    agent, results = run_stages(rt, prior, stages, lambda: DiversityFilter("none"), staged=True)
    assert "threshold" in results[0].reason and len(results[0].history) < 20
    assert len(results[1].history) == 2
    assert (tmp_path / "first" / "molecules.csv").exists() and (tmp_path / "second" / "checkpoint.json").exists()
    changed = any(not torch.equal(a, b) for a, b in zip(agent.network.parameters(), prior.network.parameters()))
    assert changed


# --- early stopping on a sparse objective -----------------------------------------------------------


class Sparse(NitrogenFraction):
    """Scores 0 until its ``found_on``-th call (a SMARTS nobody matches yet), then 1."""

    def __init__(self, found_on: int = 10**9):
        super().__init__()
        self.found_on = found_on

    def __call__(self, smiles):
        result = super().__call__(smiles)
        found = self.calls >= self.found_on
        result.total = np.full(len(smiles), 1.0 if found else 0.0)
        return result


def test_patience_never_ends_a_run_that_has_found_nothing(tmp_path, prior):
    result = learning(tmp_path / "nothing", prior, Sparse(), max_steps=6, patience=2).run()
    assert result.reason == "max_steps=6 reached" and len(result.history) == 6
    # once something scores, patience counts from there
    late = learning(tmp_path / "late", prior, Sparse(found_on=4), max_steps=40, patience=2).run()
    assert "no better top-10" in late.reason and late.history[-3]["top_k"] > 0 == late.history[0]["top_k"]


# --- Augmented Memory ------------------------------------------------------------------------------


def test_randomized_smiles_are_valid_equivalent_and_seeded():
    from rdkit import Chem

    from gentoolkit_molecules.augmentation import randomized_smiles

    smiles = ["CC(=O)Oc1ccccc1C(=O)O", "Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(N)(=O)=O)cc2)cc1", "C[C@H](N)C(=O)O", "C"]
    first = randomized_smiles(smiles, torch.Generator().manual_seed(0))
    again = randomized_smiles(smiles, torch.Generator().manual_seed(0))
    other = randomized_smiles(smiles, torch.Generator().manual_seed(1))
    canonical = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in smiles]
    assert [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in first + other] == canonical * 2
    assert first == again and first != other
    assert sum(a != b for a, b in zip(first, smiles)) >= 2
    # a form the prior cannot encode is not used: the molecule gets its fallback (as sampled), else stays
    assert randomized_smiles(smiles[:2], torch.Generator().manual_seed(0), lambda s: False) == smiles[:2]
    assert randomized_smiles(smiles[:2], torch.Generator().manual_seed(0), lambda s: False, fallback=["x", "y"]) == [
        "x", "y"]


def _adam_steps(run) -> int:
    return int(next(iter(run.optimizer.state.values()))["step"])


@pytest.mark.parametrize("rounds", [0, 2])
def test_augmented_memory_updates_the_agent_k_more_times_per_batch(tmp_path, prior, rounds):
    run = learning(tmp_path, prior, NitrogenFraction(), max_steps=3, augmentation_rounds=rounds)
    before = [p.detach().clone() for p in run.agent.network.parameters()]
    run.train_step()
    assert _adam_steps(run) == 1 + rounds
    assert any(not torch.equal(a, b) for a, b in zip(before, run.agent.network.parameters()))
    run.train_step()
    assert _adam_steps(run) == 2 * (1 + rounds)


def test_selective_purge_drops_the_scaffolds_the_filter_penalised():
    from gentoolkit_molecules.diversity import scaffold
    from gentoolkit_molecules.replay import ReplayMemory

    memory = ReplayMemory(10)
    kept = ["Cc1ccccc1", "Oc1ccccc1", "C1CCNCC1", "CC1CCNCC1", "CCO"]
    memory.add(kept, kept, [0.9, 0.8, 0.7, 0.6, 0.5])
    dropped = memory.purge(["Nc1ccccc1"], lambda s: scaffold(s, "IdenticalMurckoScaffold"))
    assert sorted(dropped) == ["Cc1ccccc1", "Oc1ccccc1"]
    assert memory.everything()[0::2] == (["C1CCNCC1", "CC1CCNCC1", "CCO"], [0.7, 0.6, 0.5])
    assert memory.purge([], lambda s: s) == []


def test_augmented_memory_run_stops_replaying_penalised_scaffolds(tmp_path, prior):
    from gentoolkit_molecules.diversity import scaffold

    def run_with(out, **extra):
        rt = runtime(out)
        config = RLConfig(batch_size=32, learning_rate=1e-3, sigma=60.0, replay_sample=4, max_steps=4,
                          augmentation_rounds=1, checkpoint_every=2, **extra)
        return Learning(rt, prior, prior.copy(), NitrogenFraction(), config,
                        DiversityFilter("IdenticalMurckoScaffold", bucket_size=1, minscore=0.0))

    run = run_with(tmp_path / "a")
    run.run()
    full = {s for s, bucket in run.diversity.buckets.items() if len(bucket) > 1}
    assert full, "the filter penalised no scaffold: the test shows nothing"
    assert not {scaffold(c, "IdenticalMurckoScaffold") for c in run.memory.everything()[0]} & full
    kept = run_with(tmp_path / "b", selective_memory_purge=False)
    kept.run()
    assert {scaffold(c, "IdenticalMurckoScaffold") for c in kept.memory.everything()[0]} & full


def test_rl_standardises_samples_with_the_configured_fragment_rule(tmp_path, prior, monkeypatch):
    from gentoolkit_molecules import rl

    real, used = rl.standardise, set()
    monkeypatch.setattr(rl, "standardise", lambda s, fragments="largest": used.add(fragments) or real(s, fragments))
    learning(tmp_path, prior, NitrogenFraction(), max_steps=1, fragments="invalid").run()
    assert used == {"invalid"}
