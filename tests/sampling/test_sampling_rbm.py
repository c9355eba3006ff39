"""The Bernoulli RBM on its own: the exact pseudo-log-likelihood against unit-by-unit flips, the
decaying learning rate, and an exact resume through the core loop (the update count is saved)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from gentoolkit import RuntimeOptions, Toolkit


@pytest.fixture(scope="module")
def kit():
    return Toolkit()


def test_exact_pseudo_likelihood_sums_each_units_conditional(kit):
    torch.manual_seed(0)
    rbm = kit.create_model("rbm", image_shape=[1, 3, 4], num_hidden=5)
    with torch.no_grad():
        for p in (rbm.weight, rbm.visible_bias, rbm.hidden_bias):
            p.normal_()
    v = torch.bernoulli(torch.full((6, 12), 0.4))
    expected = torch.zeros(6)
    for i in range(12):  # log p(v_i | v_-i) = log sigmoid(F(v with unit i flipped) - F(v))
        flipped = v.clone()
        flipped[:, i] = 1 - flipped[:, i]
        expected += torch.nn.functional.logsigmoid(rbm.free_energy(flipped) - rbm.free_energy(v))
    torch.testing.assert_close(rbm.pseudo_log_likelihood(v, exact=True), expected.detach())
    one_unit = torch.stack([rbm.pseudo_log_likelihood(v, torch.Generator().manual_seed(s)) for s in range(2000)])
    torch.testing.assert_close(one_unit.mean(0), expected.detach(), atol=0.6, rtol=0.05)  # its unbiased estimate


def test_rbm_learning_rate_decays_and_training_resumes_exactly(kit, tmp_path):
    images = kit.load_dataset("digits", split="train").images[:64]
    data = TensorDataset(images)

    def trained(epochs: int, out, seed_weights: int = 0):
        torch.manual_seed(seed_weights)
        model = kit.create_model("rbm", lr=0.1, lr_decay=4)
        kit.fit(model, data, RuntimeOptions(out=out, progress=False, seed=3), epochs=epochs, batch_size=16)
        return model

    straight = trained(2, tmp_path / "a")
    assert straight.updates.item() == 8
    trained(1, tmp_path / "b")
    resumed = trained(2, tmp_path / "b", seed_weights=1)  # other initial weights: the checkpoint must win
    for key, value in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, msg=key)
    optimizer = straight.configure_optimizers()["sgd"]
    straight.training_step(images[:16], {"sgd": optimizer}, type("R", (), {"optimize": lambda *a: None})())
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / (1 + 8 / 4))  # the 9th update's rate
