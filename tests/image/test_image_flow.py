"""RealNVP and Glow: invertibility, log-determinants, likelihood and checkpoints."""

import itertools
import math

import pytest
import torch

from gentoolkit.errors import ConfigError
from gentoolkit.runtime import Runtime, RuntimeOptions
from gentoolkit_image.models import create_model
from gentoolkit_image.models.flow import AffineCoupling

TINY = {"num_scales": 2, "steps_per_scale": 2, "hidden_channels": 8, "levels": 17}


@pytest.fixture(scope="module", autouse=True)
def runtime(tmp_path_factory):
    options = RuntimeOptions(device="cpu", seed=0, threads=1, out=tmp_path_factory.mktemp("run"), progress=False)
    return Runtime(options, task="test").start()


def digit_like(n: int, size: int = 8, levels: int = 17, seed: int = 0) -> torch.Tensor:
    """Blocky images on ``levels`` grey levels: a bright bar on a dark background, with noise."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 1, size, size)
    x[:, :, 1:-1, size // 2 - 1: size // 2 + 1] = 0.8
    x = (x + 0.2 * torch.rand(x.shape, generator=g)).clamp(0, 1)
    return torch.round(x * (levels - 1)) / (levels - 1)


def randomised(model):
    """Give every coupling a non-identity network, so the checks see real transforms."""
    torch.manual_seed(1)
    for layer in model.layers:
        if isinstance(layer, AffineCoupling):
            torch.nn.init.normal_(layer.net[-1].weight, std=0.2)
    model.flow_forward(torch.randn(16, *model.image_shape))  # actnorm initialises on its first batch
    return model.eval()


@pytest.mark.parametrize("family", ["realnvp", "glow"])
def test_inverse_undoes_forward(family):
    model = randomised(create_model(family, (1, 8, 8), **TINY))
    u = torch.randn(4, 1, 8, 8)
    z, _ = model.flow_forward(u)
    assert z.shape == (4, 64)
    assert torch.allclose(model.flow_inverse(z), u, atol=1e-4)


@pytest.mark.parametrize("family", ["realnvp", "glow"])
def test_log_det_matches_autograd_jacobian(family):
    model = randomised(create_model(family, (1, 4, 4), **TINY)).double()
    u = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    _, logdet = model.flow_forward(u)
    jacobian = torch.autograd.functional.jacobian(lambda v: model.flow_forward(v.view(1, 1, 4, 4))[0][0], u.flatten())
    sign, expected = torch.linalg.slogdet(jacobian)
    assert sign.item() != 0
    assert logdet.item() == pytest.approx(expected.item(), abs=1e-6)


@pytest.mark.parametrize("family", ["realnvp", "glow"])
def test_training_lowers_bits_per_dim_below_uniform(family, runtime):
    torch.manual_seed(0)
    model = create_model(family, (1, 8, 8), **TINY)
    x = digit_like(64)
    optimizers = model.configure_optimizers()
    first = [model.training_step((x, None), optimizers, runtime)["bits_per_dim"] for _ in range(3)]
    for _ in range(40):
        last = model.training_step((x, None), optimizers, runtime)["bits_per_dim"]
    assert last < min(first) - 0.3
    with torch.no_grad():
        bpd = -model.log_prob(x).mean() / (64 * math.log(2))
    assert bpd < math.log2(17)  # better than the uniform distribution over 17 levels


@pytest.mark.parametrize("family", ["realnvp", "glow"])
def test_probabilities_of_all_discrete_images_sum_to_at_most_one(family):
    """Monte Carlo over the dequantisation noise: sum_x E_u p(x + u) = sum_x P(x) <= 1, and close
    to 1 (the logit pre-processing leaves out only the Gaussian's far tails)."""
    model = randomised(create_model(family, (1, 2, 2), **{**TINY, "num_scales": 1, "levels": 2}))
    images = torch.tensor(list(itertools.product(range(2), repeat=4)), dtype=torch.float32).view(-1, 1, 2, 2)
    torch.manual_seed(0)
    with torch.no_grad():
        # fresh noise per copy (the training path); log_prob's noise is fixed so scores are stable
        probs = model._log_likelihood(images.repeat(2000, 1, 1, 1), None).exp().view(2000, 16).mean(0)
    assert 0.8 < probs.sum().item() < 1.02


def test_samples_lie_on_the_grey_levels_and_classes_shift_the_prior(runtime):
    model = create_model("realnvp", (1, 8, 8), classes=[str(c) for c in range(3)], **TINY)
    samples = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (5, 1, 8, 8)
    assert 0 <= samples.min() and samples.max() <= 1
    assert torch.allclose(samples * 16, torch.round(samples * 16), atol=1e-5)
    x, y = digit_like(32), torch.zeros(32, dtype=torch.long)
    optimizers = model.configure_optimizers()
    for _ in range(20):
        model.training_step((x, y), optimizers, runtime)
    torch.manual_seed(0)
    trained_class = model.log_prob(x, condition=y).mean()
    torch.manual_seed(0)
    other_class = model.log_prob(x, condition=torch.full((32,), 2)).mean()
    assert trained_class > other_class


def test_checkpoint_round_trip_keeps_the_likelihood(tmp_path, image_kit):
    model = randomised(image_kit.create_model("image-glow", image_shape=(1, 8, 8), **TINY))
    loaded = image_kit.load_model(image_kit.save_model(model, tmp_path / "glow"))
    x = digit_like(4)
    assert torch.allclose(loaded.log_prob(x), model.eval().log_prob(x), atol=1e-4)


def test_bad_params_and_sizes_are_named():
    with pytest.raises(ConfigError, match="hidden_channel"):
        create_model("realnvp", (1, 8, 8), hidden_channel=8)
    with pytest.raises(ConfigError, match="6x6"):
        create_model("glow", (1, 6, 6), num_scales=2)
