"""VAE and GAN: losses fall, samples have the right shape and range, WGAN-GP penalty and the
anti-collapse features behave as their papers say."""

import pytest
import torch

from gentoolkit.errors import ConfigError
from gentoolkit.protocols import ReconstructionDensity
from gentoolkit.runtime import Runtime, RuntimeOptions
from gentoolkit_image.data import load_digits
from gentoolkit_image.models import create_model
from gentoolkit_image.models.gan import MinibatchDiscrimination, MinibatchStddev, gradient_penalty


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    torch.set_num_threads(1)
    return Runtime(RuntimeOptions(device="cpu", seed=0, out=tmp_path_factory.mktemp("run"), progress=False)).start()


@pytest.fixture(scope="module")
def digits():
    return load_digits("train")


def _steps(model, digits, runtime, n):
    optimizers = model.configure_optimizers()
    g = torch.Generator().manual_seed(0)
    history = []
    for _ in range(n):
        index = torch.randint(len(digits), (64,), generator=g)
        history.append(model.training_step((digits.images[index], digits.labels[index]), optimizers, runtime))
    return history


def test_vae_loss_decreases_and_samples_in_range(runtime, digits):
    torch.manual_seed(0)
    model = create_model("vae", (1, 8, 8), latent_dim=4, width=8)
    history = _steps(model, digits, runtime, 60)
    first, last = sum(h["loss"] for h in history[:10]) / 10, sum(h["loss"] for h in history[-10:]) / 10
    assert last < first - 3
    assert set(history[0]) == {"loss", "reconstruction", "kl"}
    model.eval()
    samples = model.sample(5, generator=torch.Generator().manual_seed(1))
    assert samples.shape == (5, 1, 8, 8) and samples.min() >= 0 and samples.max() <= 1


def test_conditional_vae_samples_requested_classes(runtime, digits):
    model = create_model("vae", (1, 16, 16), classes=[str(c) for c in range(10)], latent_dim=4, width=8)
    _steps(model, load_digits("train", size=16), runtime, 2)
    model.eval()
    assert model.sample(3, condition=torch.tensor([0, 1, 2])).shape == (3, 1, 16, 16)


@pytest.mark.parametrize("params", [{"loss": "ns", "diversity": "none"},
                                    {"loss": "ns", "diversity": "minibatch-discrimination"},
                                    {"loss": "wgan-gp", "diversity": "minibatch-stddev", "n_critic": 2}])
def test_gan_steps_run_and_sample(runtime, digits, params):
    torch.manual_seed(0)
    model = create_model("gan", (1, 8, 8), latent_dim=8, width=8, **params)
    history = _steps(model, digits, runtime, 4)
    assert all("d_loss" in h for h in history)
    assert sum("g_loss" in h for h in history) == 4 // model.params["n_critic"]
    if params["loss"] == "wgan-gp":
        assert all(h["gradient_penalty"] >= 0 for h in history)
    model.eval()
    samples = model.sample(6)
    assert samples.shape == (6, 1, 8, 8) and samples.min() >= 0 and samples.max() <= 1


def test_unknown_gan_loss_is_refused():
    with pytest.raises(Exception, match="wgan-gp"):
        create_model("gan", (1, 8, 8), loss="hinge")


@pytest.mark.parametrize("family", ["vae", "gan"])
def test_misspelt_params_are_refused_not_saved(family, image_kit):
    with pytest.raises(ConfigError, match="latnt_dim"):
        create_model(family, (1, 8, 8), latnt_dim=4)
    with pytest.raises(ConfigError, match="Did you mean 'latent_dim'"):
        image_kit.create_model(f"image-{family}", latnt_dim=4)


def test_vae_elbo_is_a_bound_per_image_and_codes_round_trip(runtime, digits):
    torch.manual_seed(0)
    model = create_model("vae", (1, 8, 8), latent_dim=4, width=8)
    _steps(model, digits, runtime, 40)
    model.eval()
    x = digits.images[:6]
    elbo = model.log_prob(x).detach()
    assert elbo.shape == (6,) and torch.equal(elbo, model.log_prob(x))  # fixed draws: the same score twice
    iwae = model.log_prob(x, num_samples=16).detach()
    assert float(iwae.mean()) >= float(elbo.mean()) - 1.0  # IWAE tightens the bound (up to Monte Carlo noise)
    noise = torch.rand(6, 1, 8, 8, requires_grad=True)
    noise_score = model.log_prob(noise).mean()
    noise_score.backward()  # a continuous density: gradients reach the input (an MCMC target needs them)
    assert noise.grad is not None and float(elbo.mean()) > float(noise_score.detach())
    z = model.encode(x)
    assert z.shape == (6, 4) and torch.allclose(model.reconstruct(x), model.decode(z))
    assert model.reconstruct(x).shape == x.shape
    recon = model.reconstruction_log_prob(x, num_samples=8).detach()  # An and Cho's reconstruction probability
    assert isinstance(model, ReconstructionDensity) and recon.shape == (6,)
    torch.testing.assert_close(model.reconstruction_log_prob(x[:2], num_samples=8), recon[:2])  # batch-free
    assert float(recon.mean()) > float(model.reconstruction_log_prob(noise.detach(), num_samples=8).detach().mean())


def test_gradient_penalty_zero_for_unit_lipschitz_linear_critic():
    w = torch.randn(64)
    w = w / w.norm()  # a linear critic with ||grad|| = 1 everywhere
    critic = lambda x: x.flatten(1) @ w  # noqa: E731
    real, fake = torch.rand(16, 1, 8, 8), torch.rand(16, 1, 8, 8)
    assert float(gradient_penalty(critic, real, fake)) < 1e-10
    assert float(gradient_penalty(lambda x: 3 * critic(x), real, fake)) == pytest.approx(4.0, rel=1e-5)


def test_minibatch_stddev_tells_collapsed_from_diverse():
    layer = MinibatchStddev()
    collapsed = torch.rand(1, 4, 3, 3).expand(8, -1, -1, -1)
    diverse = torch.rand(8, 4, 3, 3)
    a, b = layer(collapsed), layer(diverse)
    assert a.shape == (8, 5, 3, 3)
    assert float(a[:, 4].max()) < 1e-3 < 0.1 < float(b[:, 4].min())
    assert torch.equal(b[:, :4], diverse)


def test_minibatch_discrimination_scores_closeness():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(10, out_features=4, kernel_dim=3)
    collapsed = torch.randn(1, 10).expand(6, -1)
    diverse = torch.randn(6, 10) * 5
    with torch.no_grad():
        a, b = layer(collapsed), layer(diverse)
    assert a.shape == (6, 14)
    assert torch.allclose(a[:, 10:], torch.full((6, 4), 5.0))  # each sample matches the 5 others exactly
    assert float(b[:, 10:].mean()) < 2.5
