"""DDPM and DDIM: the noising closed form, deterministic DDIM, training lowers the loss."""

import pytest
import torch

from gentoolkit.errors import ConfigError
from gentoolkit.runtime import Runtime, RuntimeOptions
from gentoolkit_image.models import create_model
from gentoolkit_image.schedulers import DDIMScheduler, DDPMScheduler, make_betas

TINY = {"base_channels": 8, "channel_mults": [1, 2], "num_timesteps": 50}


@pytest.fixture(scope="module", autouse=True)
def runtime(tmp_path_factory):
    options = RuntimeOptions(device="cpu", seed=0, threads=1, out=tmp_path_factory.mktemp("run"), progress=False)
    return Runtime(options, task="test").start()


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_add_noise_has_the_closed_form_mean_and_variance(schedule):
    scheduler = DDPMScheduler(1000, schedule)
    abar = scheduler.alphas_cumprod
    assert torch.all(abar[1:] < abar[:-1]) and 0 < abar[-1] < 1e-2 < abar[0] < 1
    x0 = torch.linspace(-1, 1, 8).view(1, 1, 2, 4).expand(20_000, 1, 2, 4)
    for t in (0, 300, 999):
        x_t = scheduler.add_noise(x0, torch.randn(x0.shape, generator=torch.Generator().manual_seed(t)),
                                  torch.full((len(x0),), t))
        mean, var = abar[t].sqrt().item() * x0[0], 1 - abar[t].item()
        assert torch.allclose(x_t.mean(0), mean, atol=0.03)
        assert torch.allclose(x_t.var(0), torch.full_like(mean, var), atol=0.03 + 0.03 * var)


def test_unknown_schedule_is_named():
    with pytest.raises(ConfigError, match="quadratic"):
        make_betas(10, "quadratic")


def test_ddpm_last_step_is_the_posterior_mean_without_noise():
    scheduler = DDPMScheduler(10)
    x, eps = torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    assert torch.equal(scheduler.step(eps, 0, x, g1), scheduler.step(eps, 0, x, g2))
    assert not torch.equal(scheduler.step(eps, 5, x, g1), scheduler.step(eps, 5, x, g2))


def test_ddim_with_eta_zero_is_deterministic_and_uses_fewer_steps():
    scheduler = DDIMScheduler(1000)
    scheduler.set_timesteps(10)
    assert scheduler.timesteps.tolist()[0] == 999 and scheduler.timesteps.tolist()[-1] == 0
    assert len(scheduler.timesteps) == 10
    x, eps = torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    assert torch.equal(scheduler.step(eps, 555, x, 0.0, g1), scheduler.step(eps, 555, x, 0.0, g2))
    assert not torch.equal(scheduler.step(eps, 555, x, 1.0, g1), scheduler.step(eps, 555, x, 1.0, g2))

    model = create_model("ddpm", (1, 8, 8), **TINY)
    torch.nn.init.normal_(model.ema.out[-1].weight, std=0.1)  # a non-trivial noise model
    a, b, noisy = (model.sample(3, generator=torch.Generator().manual_seed(0), sampler="ddim", steps=5, eta=eta)
                   for eta in (0.0, 0.0, 1.0))
    assert torch.equal(a, b) and a.shape == (3, 1, 8, 8)
    assert not torch.equal(a, noisy)
    with pytest.raises(ConfigError, match="steps"):
        model.sample(1, sampler="ddim", steps=0)


def test_training_steps_lower_the_loss(runtime):
    torch.manual_seed(0)
    model = create_model("ddpm", (1, 8, 8), classes=[str(c) for c in range(2)], lr=3e-3, **TINY)
    x = torch.zeros(32, 1, 8, 8)
    x[:, :, 2:6, 3:5] = 1.0
    y = torch.randint(2, (32,))
    optimizers = model.configure_optimizers()

    def held_out_loss() -> float:
        g = torch.Generator().manual_seed(0)
        t, noise = torch.randint(50, (32,), generator=g), torch.randn(x.shape, generator=g)
        with torch.no_grad():
            eps = model.unet(model.scheduler.add_noise(x * 2 - 1, noise, t), t, y)
        return torch.nn.functional.mse_loss(eps, noise).item()

    before = held_out_loss()
    initial = torch.nn.utils.parameters_to_vector(model.unet.parameters()).detach().clone()
    losses = [model.training_step((x, y), optimizers, runtime)["loss"] for _ in range(30)]
    assert held_out_loss() < 0.7 * before
    assert sum(losses[-5:]) < sum(losses[:5])
    trained, ema = (torch.nn.utils.parameters_to_vector(m.parameters()) for m in (model.unet, model.ema))
    assert int(model.ema_updates) == 30
    assert (ema - trained).norm() < 0.5 * (initial - trained).norm()  # the average follows training
    samples = model.sample(2, condition=torch.tensor([0, 1]), generator=torch.Generator().manual_seed(0))
    assert samples.shape == (2, 1, 8, 8) and 0 <= samples.min() and samples.max() <= 1


def test_checkpoint_round_trip_keeps_the_ema_weights(tmp_path, image_kit):
    model = image_kit.create_model("image-ddpm", image_shape=(1, 8, 8), **TINY)
    torch.nn.init.normal_(model.ema.out[-1].weight, std=0.1)
    loaded = image_kit.load_model(image_kit.save_model(model, tmp_path / "ddpm"))
    kwargs = {"sampler": "ddim", "steps": 4}
    assert torch.equal(loaded.sample(2, generator=torch.Generator().manual_seed(0), **kwargs),
                       model.sample(2, generator=torch.Generator().manual_seed(0), **kwargs))


def test_bad_sizes_and_samplers_are_named():
    with pytest.raises(ConfigError, match="10x10"):
        create_model("ddpm", (1, 10, 10), channel_mults=[1, 2, 2])
    with pytest.raises(ConfigError, match="ancestral"):
        create_model("ddpm", (1, 8, 8), sampler="ancestral")


def _neighbour_correlation(x: torch.Tensor) -> float:
    a, b = x[..., :, :-1].flatten(), x[..., :, 1:].flatten()
    return torch.corrcoef(torch.stack([a, b]))[0, 1].item()


def test_simplex_noise_is_smooth_standardised_and_seeded():
    from gentoolkit_image.schedulers import simplex_noise

    noise = simplex_noise((64, 2, 16, 16), generator=torch.Generator().manual_seed(0))
    assert noise.shape == (64, 2, 16, 16) and noise.dtype == torch.float32
    torch.testing.assert_close(noise.mean((2, 3)), torch.zeros(64, 2), atol=1e-5, rtol=0)
    torch.testing.assert_close(noise.std((2, 3), unbiased=False), torch.ones(64, 2), atol=1e-4, rtol=0)
    assert torch.equal(noise, simplex_noise((64, 2, 16, 16), generator=torch.Generator().manual_seed(0)))
    assert not torch.equal(noise, simplex_noise((64, 2, 16, 16), generator=torch.Generator().manual_seed(1)))
    # smooth, unlike white Gaussian noise; and every image and channel a draw of its own
    assert _neighbour_correlation(noise) > 0.5 > 0.1 > abs(_neighbour_correlation(torch.randn(64, 2, 16, 16)))
    assert abs(torch.corrcoef(noise.reshape(128, -1))[torch.triu_indices(128, 128, 1).unbind()].mean()) < 0.05
    assert _neighbour_correlation(noise.transpose(2, 3)) > 0.5  # smooth down the columns too
    # each octave adds finer detail: neighbours agree less with every one added
    by_octaves = [_neighbour_correlation(simplex_noise((64, 1, 16, 16), octaves=k, generator=torch.Generator()
                                                       .manual_seed(0))) for k in (1, 2, 3, 4)]
    assert by_octaves == sorted(by_octaves, reverse=True) and by_octaves[0] > 0.9 > 0.75 > by_octaves[-1]
    with pytest.raises(ConfigError, match="octaves >= 1"):
        simplex_noise((1, 1, 8, 8), octaves=0)


def test_simplex_noise_is_gustavsons_2d_simplex_noise():
    """Zero at every lattice corner, the corner's gradient times 70 * 0.5^4 next to it, in [-1, 1],
    and a different permutation table gives a different field."""
    from gentoolkit_image.schedulers.simplex import _GRADIENTS, _G2, _simplex2d

    perm = torch.randperm(256, generator=torch.Generator().manual_seed(0))
    i, j = torch.meshgrid(torch.arange(-3.0, 9, dtype=torch.float64), torch.arange(-3.0, 9, dtype=torch.float64),
                          indexing="ij")
    x, y = i - (i + j) * _G2, j - (i + j) * _G2  # the corners, unskewed
    torch.testing.assert_close(_simplex2d(x, y, perm), torch.zeros_like(x), atol=1e-12, rtol=0)
    g = _GRADIENTS[perm[(perm[0] + 0) % 256] % 12]  # the gradient of corner (0, 0)
    step = torch.tensor([1e-3], dtype=torch.float64)
    torch.testing.assert_close(_simplex2d(step, 0 * step, perm), 70 * 0.5**4 * g[0] * step, rtol=1e-4, atol=0)
    torch.testing.assert_close(_simplex2d(0 * step, step, perm), 70 * 0.5**4 * g[1] * step, rtol=1e-4, atol=0)
    points = torch.rand(2, 50_000, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 256
    values = _simplex2d(*points, perm)
    assert values.abs().max() <= 1 and 0.3 < values.std() < 0.6
    assert (values - _simplex2d(*points, torch.randperm(256))).abs().mean() > 0.2


def test_a_simplex_noise_ddpm_trains_samples_and_denoises_but_has_no_bound(runtime):
    torch.manual_seed(0)
    model = create_model("ddpm", (1, 8, 8), lr=3e-3, noise="simplex", **TINY)
    x = torch.zeros(32, 1, 8, 8)
    x[:, :, 2:6, 3:5] = 1.0
    optimizers = model.configure_optimizers()
    losses = [model.training_step((x, torch.zeros(32, dtype=torch.long)), optimizers, runtime)["loss"]
              for _ in range(30)]
    assert sum(losses[-5:]) < sum(losses[:5])
    g = torch.Generator().manual_seed(0)
    noise = model.draw_noise(16, g)
    assert _neighbour_correlation(noise) > 0.4  # the model's own kind of noise (Gaussian: about 0)
    samples = model.sample(2, generator=g)
    assert samples.shape == (2, 1, 8, 8) and 0 <= samples.min() and samples.max() <= 1
    restored = model.denoise_from(x[:4], 10, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(model.denoise_from(x[2:3], 10, generator=torch.Generator().manual_seed(0)),
                               restored[2:3])  # the same noise for every item
    with pytest.raises(ConfigError, match="variational bound of a Gaussian-noise DDPM"):
        model.log_prob(x[:2])
    with pytest.raises(ConfigError, match="eta=0"):
        model.sample(1, sampler="ddim", eta=1.0)
    with pytest.raises(ConfigError, match="unknown noise 'perlin'"):
        create_model("ddpm", (1, 8, 8), noise="perlin")


def test_variational_bound_is_a_likelihood_bound_on_discrete_images(runtime):
    """Every term of the bound is a KL (>= 0) or a log-probability of a discrete bin (<= 0), so the
    bound is <= 0; training on one pattern raises its bound above that of noise images."""
    torch.manual_seed(0)
    model = create_model("ddpm", (1, 8, 8), levels=5, lr=3e-3, **{**TINY, "num_timesteps": 20})
    x = torch.zeros(16, 1, 8, 8)
    x[:, :, 2:6, 3:5] = 1.0
    before = model.log_prob(x[:4])
    assert before.shape == (4,) and torch.all(before < 0) and torch.equal(before, model.log_prob(x[:4]))
    optimizers = model.configure_optimizers()
    for _ in range(40):
        model.training_step((x, None), optimizers, runtime)
    model.eval()
    full = model.log_prob(x[:4])
    assert float(full.mean()) > float(before.mean())
    assert torch.equal(model.log_prob(x[:4], num_steps=19), full)  # every KL term of T = 20: the full bound
    assert torch.all(model.log_prob(x[:4], num_steps=5) < 0)
    noise = torch.randint(0, 5, (4, 1, 8, 8)).float() / 4
    assert float(full.mean()) > float(model.log_prob(noise).mean())
