"""Gated PixelCNN: causality without blind spot, a normalised exact likelihood, training, sampling."""

import itertools
import math

import pytest
import torch

from gentoolkit.errors import ConfigError
from gentoolkit.runtime import Runtime, RuntimeOptions
from gentoolkit_image.models import create_model

TINY = {"channels": 8, "num_layers": 4, "kernel_size": 3}


@pytest.fixture(scope="module", autouse=True)
def runtime(tmp_path_factory):
    options = RuntimeOptions(device="cpu", seed=0, threads=1, out=tmp_path_factory.mktemp("run"), progress=False)
    return Runtime(options, task="test").start()


def dependencies(model, pixel: tuple[int, int]) -> torch.Tensor:
    """(C, H, W) mask of the input entries the logits at ``pixel`` have a gradient from."""
    x = torch.rand(1, *model.image_shape, requires_grad=True)
    model.logits(x)[..., pixel[0], pixel[1]].sum().backward()
    return x.grad[0] != 0


@pytest.mark.parametrize("pixel", [(0, 0), (2, 3), (5, 0), (5, 5)])
def test_each_pixel_sees_only_the_pixels_before_it_and_all_of_them(pixel):
    torch.manual_seed(0)
    model = create_model("pixelcnn", (2, 6, 6), levels=4, **TINY)
    seen = dependencies(model, pixel)
    order = torch.arange(36).view(6, 6)
    current = order[pixel]
    assert not seen[:, order >= current].any()  # no channel of this pixel or any later one
    i, j = pixel
    # every earlier pixel within reach, including those up and to the right (the classic blind spot)
    reach = (order < current) & ((torch.arange(6)[:, None] - i).abs() <= 4) & ((torch.arange(6) - j).abs() <= 4)
    assert seen[:, reach].all()


def test_log_likelihood_is_a_normalised_distribution():
    torch.manual_seed(0)
    model = create_model("pixelcnn", (1, 2, 2), classes=[str(c) for c in range(2)], levels=3, **TINY)
    images = torch.tensor(list(itertools.product(range(3), repeat=4)), dtype=torch.float32).view(-1, 1, 2, 2) / 2
    for label in (0, 1):
        y = torch.full((len(images),), label)
        total = model.log_prob(images, condition=y).exp().sum()
        assert total.item() == pytest.approx(1.0, abs=1e-5)
    mixture = model.log_prob(images).exp()  # no labels: the even mixture of both classes
    assert mixture.sum().item() == pytest.approx(1.0, abs=1e-5)
    halves = (model.log_prob(images, condition=torch.zeros(81, dtype=torch.long)).exp()
              + model.log_prob(images, condition=torch.ones(81, dtype=torch.long)).exp()) / 2
    assert torch.allclose(mixture, halves, atol=1e-6)


def test_training_lowers_bits_per_dim_and_samples_are_on_the_levels(runtime):
    torch.manual_seed(0)
    model = create_model("pixelcnn", (1, 6, 6), classes=[str(c) for c in range(2)], levels=5, lr=1e-2, **TINY)
    x = torch.zeros(16, 1, 6, 6)
    x[:8] = 1.0  # class 0: bright; class 1: dark
    y = torch.tensor([0] * 8 + [1] * 8)
    optimizers = model.configure_optimizers()
    first = model.training_step((x, y), optimizers, runtime)["bits_per_dim"]
    for _ in range(40):
        last = model.training_step((x, y), optimizers, runtime)["bits_per_dim"]
    assert last < first / 3
    bpd = -model.log_prob(x, condition=y) / (36 * math.log(2))
    assert bpd.mean().item() == pytest.approx(last, abs=0.2)
    samples = model.sample(4, condition=torch.tensor([0, 0, 1, 1]), generator=torch.Generator().manual_seed(0))
    assert samples.shape == (4, 1, 6, 6)
    assert torch.equal(samples * 4, torch.round(samples * 4))
    assert samples[:2].mean() > 0.9 and samples[2:].mean() < 0.1


def test_bad_kernel_and_unknown_params_are_named():
    with pytest.raises(ConfigError, match="kernel_size"):
        create_model("pixelcnn", (1, 8, 8), kernel_size=4)
    with pytest.raises(ConfigError, match="layers"):
        create_model("pixelcnn", (1, 8, 8), layers=3)
