"""CycleGAN: shapes kept, cycle loss falls on tiny data, no sampling from noise."""

import pytest
import torch

from gentoolkit.errors import ConfigError, GentoolkitError
from gentoolkit.runtime import Runtime, RuntimeOptions
from gentoolkit_image.models import create_model

TINY = {"channels": 8, "num_res_blocks": 1, "disc_channels": 8, "lr": 2e-3}


@pytest.fixture(scope="module", autouse=True)
def runtime(tmp_path_factory):
    options = RuntimeOptions(device="cpu", seed=0, threads=1, out=tmp_path_factory.mktemp("run"), progress=False)
    return Runtime(options, task="test").start()


def blobs(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 1, 8, 8)
    for i, (r, c) in enumerate(torch.randint(1, 5, (n, 2), generator=g).tolist()):
        x[i, :, r:r + 3, c:c + 3] = 1.0
    return x


def test_translation_keeps_shapes_and_range():
    model = create_model("cyclegan", (3, 8, 8), **TINY)
    x = torch.rand(2, 3, 8, 8)
    for direction in ("a2b", "b2a"):
        out = model.translate(x, direction)
        assert out.shape == x.shape and 0 <= out.min() and out.max() <= 1
    with pytest.raises(ConfigError, match="sideways"):
        model.translate(x, "sideways")


def test_cycle_loss_drops_over_a_few_steps(runtime):
    torch.manual_seed(0)
    model = create_model("cyclegan", (1, 8, 8), **TINY)
    a, b = blobs(8, 0), 1 - blobs(8, 1)
    optimizers = model.configure_optimizers()

    def cycle() -> float:
        with torch.no_grad():
            return model.generator_losses(a, b)[0]["cycle"].item()

    before = cycle()
    losses = [model.training_step(((a, b), None), optimizers, runtime) for _ in range(25)]
    assert cycle() < 0.6 * before
    assert {"generator", "cycle", "identity", "disc_a", "disc_b"} <= losses[-1].keys()


def test_translator_is_no_sampler_and_training_needs_two_domains(runtime):
    from gentoolkit import Sampler, Trainable

    model = create_model("cyclegan", (1, 8, 8), **TINY)
    assert isinstance(model, Trainable) and not isinstance(model, Sampler)  # it translates, it does not sample
    with pytest.raises(GentoolkitError, match="domain A"):
        model.training_step((torch.rand(2, 1, 8, 8), None), model.configure_optimizers(), runtime)

