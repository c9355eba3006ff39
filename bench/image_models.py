"""Every image model family on digits with the same training budget, measured the same way.

    python bench/image_models.py            # 8x8 digits, 60 epochs each, 2 seeds for the GAN variants
    python bench/image_models.py --quick    # 5 epochs, 1 seed (a smoke run)
    python bench/image_models.py --skip wgan-gp   # those rows from the cache, or marked not measured

Each model trains through the ``image`` task on the digits train split (1,437 images) and is
measured on the held-out test split (360 images) with 1,000 samples: FID and KID on the shipped
digits classifier's features against the real-versus-real floor (1,000 train images vs test),
Inception Score, precision/recall, class coverage, Parzen log-likelihood, bits/dim where the
likelihood is exact, and wall time per epoch on one CPU thread. GANs are compared at equal
generator steps: a WGAN-GP critic takes ``n_critic`` (5) steps per generator step, so it trains
``n_critic`` times the epochs. The sampling plugin's RBM and EBM (trained by MCMC), when installed,
train and are measured the same way, through the same task; uniform noise is scored as a baseline.
Finished runs are kept in runs/bench/image_models/<code hash>/
with the time they were measured, so an interrupted benchmark resumes, a change to the image
plugin, the runtime or this script starts afresh, and the report names the cached rows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report import ResultCache, code_digest, provenance, write_section  # noqa: E402

# label -> (registry model, params, sample options)
MODELS = {
    "vae": ("image-vae", {}, {}),
    "gan ns": ("image-gan", {"loss": "ns"}, {}),
    "gan ns + minibatch discrimination": ("image-gan", {"loss": "ns", "diversity": "minibatch-discrimination"}, {}),
    "gan ns + minibatch stddev": ("image-gan", {"loss": "ns", "diversity": "minibatch-stddev"}, {}),
    "gan wgan-gp": ("image-gan", {"loss": "wgan-gp"}, {}),
    "gan wgan-gp + minibatch stddev": ("image-gan", {"loss": "wgan-gp", "diversity": "minibatch-stddev"}, {}),
    "realnvp": ("image-realnvp", {}, {}),
    "glow": ("image-glow", {}, {}),
    "pixelcnn": ("image-pixelcnn", {}, {}),
    "ddpm (DDIM, 50 steps)": ("image-ddpm", {}, {"sampler": "ddim", "steps": 50}),
    "rbm (sampling plugin, PCD, 1,000 Gibbs sweeps)": ("rbm", {}, {}),
    "ebm (sampling plugin, 100 Langevin steps)": ("ebm", {}, {}),
}
MODULE_OF = {"rbm": "gentoolkit_sampling.rbm", "ebm": "gentoolkit_sampling.ebm"}  # models of other plugins
GAN_SEEDS = (0, 1)
OUT = Path("runs/bench/image_models")


def code(*modules: str) -> str:
    """A hash of everything that produces the numbers: the image plugin (its task and metrics), the
    modules of models from other plugins, the core's runtime and training loop, and this script."""
    import importlib.util

    import gentoolkit

    core = Path(gentoolkit.__file__).parent
    return code_digest("gentoolkit_image", *(Path(importlib.util.find_spec(m).origin) for m in modules),
                       *(p for p in (core / "runtime.py", core / "training.py") if p.exists()), __file__)


def generator_epochs(family: str, params: dict, epochs: int) -> int:
    """Epochs that give a GAN as many generator steps as ``epochs`` give a non-saturating one."""
    if family != "gan":
        return epochs
    from gentoolkit_image.models.gan import PER_LOSS, GANParams

    gan = GANParams(**params)
    return epochs * (gan.n_critic or PER_LOSS[gan.loss]["n_critic"])


def cache_key(label: str, epochs: int, seed: int) -> str:
    return f"{label.replace(' ', '_').replace('+', 'and').replace('(', '').replace(')', '').replace(',', '')}" \
           f"-e{epochs}-s{seed}"


def run_one(label: str, model: str, params: dict, options: dict, epochs: int, seed: int,
            cache: ResultCache) -> dict:
    """Train and evaluate one model, or read its cache entry (``result``, ``measured_at``, ``cached``)."""
    from gentoolkit.api import Toolkit
    from gentoolkit.runtime import RuntimeOptions

    key = cache_key(label, epochs, seed)
    if entry := cache.get(key):
        return entry
    overrides = {"model": model, "params": params, "train.epochs": epochs, "train.checkpoint_every": 10,
                 "sample.options": options, "sample.n": 100, "tracking.tensorboard": False}
    result = Toolkit().run("image", overrides=overrides,
                           options=RuntimeOptions(device="cpu", seed=seed, out=cache.folder / key, progress=False))
    print(f"{label} seed {seed}: fid {result.metrics['fid']:.3f}", flush=True)
    return cache.put(key, {**result.outputs["metrics"], "epochs": epochs})


def fmt(values: list[float], digits: int = 2) -> str:
    """Mean, with the spread of seeds when there are several."""
    if not values or values[0] is None:
        return "—"
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {(max(values) - min(values)) / 2:.{digits}f}"


def collapse_note(results: dict[str, list[dict]]) -> str:
    """The GAN's class coverage with and without the anti-collapse features, in words."""
    parts = []
    for label in ("gan ns", "gan ns + minibatch discrimination", "gan ns + minibatch stddev"):
        if not (runs := results.get(label)):
            continue
        parts.append(f"- {label}: coverage {fmt([r['coverage'] for r in runs])}, largest class share "
                     f"{fmt([r['max_class_share'] for r in runs])}, class entropy "
                     f"{fmt([r['class_entropy'] for r in runs])}, recall {fmt([r['recall'] for r in runs])}")
    if not parts:
        return ""
    return "Mode collapse of the non-saturating GAN, by the classifier's class histogram:\n" + "\n".join(parts)


def noise_baseline(n: int, seed: int = 0) -> dict:
    """``n`` uniform-noise images scored exactly as the models' samples: what a FID means on these features."""
    import torch
    from gentoolkit.api import Toolkit
    from gentoolkit_image.metrics import evaluate_images, feature_network

    kit = Toolkit()
    train, test = (kit.load_dataset("digits", split=split) for split in ("train", "test"))
    noise = torch.rand((n, *test.images.shape[1:]), generator=torch.Generator().manual_seed(seed))
    return {**evaluate_images(noise, test.images, train.images, feature_network("digits-cnn", "digits"), seed=seed),
            "epochs": "—"}


def measure_all(epochs: int, gan_seeds: tuple[int, ...], skip: list[str]) -> tuple[dict[str, list[dict]], list[str]]:
    """Cache entries per label (trained now, or read from the cache), and the labels left unmeasured:
    skipped without a cache entry, or of a plugin that is not installed."""
    from gentoolkit.api import Toolkit

    available, caches = set(Toolkit().models.names()), {}
    entries: dict[str, list[dict]] = {}
    unmeasured: list[str] = []
    for label, (model, params, options) in MODELS.items():
        module = MODULE_OF.get(model)
        if model not in available:
            unmeasured.append(f"{label}: model {model!r} is not registered (its plugin is not installed)")
            continue
        cache = caches.setdefault(module, ResultCache(OUT, code(*([module] if module else []))))
        family = model.removeprefix("image-")
        seeds, model_epochs = (gan_seeds if family == "gan" else (0,)), generator_epochs(family, params, epochs)
        if any(text in label for text in skip):
            cached = [cache.get(cache_key(label, model_epochs, seed)) for seed in seeds]
            if all(cached):
                entries[label] = cached
            else:
                unmeasured.append(f"{label}: skipped (`--skip`) and not in the cache for this code")
            continue
        entries[label] = [run_one(label, model, params, options, model_epochs, seed, cache) for seed in seeds]
    return entries, unmeasured


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 epochs, one seed")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--skip", action="append", default=[], metavar="TEXT",
                        help="train no model whose label contains TEXT; its row comes from the cache if there")
    args = parser.parse_args()
    torch.set_num_threads(1)
    epochs = 5 if args.quick else args.epochs
    gan_seeds = (0,) if args.quick else GAN_SEEDS
    entries, unmeasured = measure_all(epochs, gan_seeds, args.skip)
    results = {label: [e["result"] for e in runs] for label, runs in entries.items()}
    results["uniform noise (no model)"] = [noise_baseline(1000)]
    floor = next(iter(results.values()))[0]
    rows = ["| model | epochs | FID | KID ×100 | IS | precision | recall | coverage | max class share "
            "| Parzen LL (nats) | bits/dim | s/epoch | measured |", "|" + "---|" * 13]
    for label, runs in results.items():
        get = lambda key: [r.get(key) for r in runs]  # noqa: E731
        kid = [100 * k for k in get("kid")]
        rows.append(f"| {label} | {runs[0]['epochs']} | {fmt(get('fid'))} | {fmt(kid)} | "
                    f"{fmt(get('inception_score'))} | "
                    f"{fmt(get('precision'))} | {fmt(get('recall'))} | {fmt(get('coverage'))} | "
                    f"{fmt(get('max_class_share'))} | {fmt(get('parzen_ll'), 1)} | {fmt(get('bits_per_dim'), 3)} | "
                    f"{fmt(get('seconds_per_epoch'))} | {provenance(entries.get(label, [{'cached': False}]))} |")
    not_measured = "".join(f"\n- {line}" for line in unmeasured)
    body = f"""
Digits 8x8 (17 grey levels), train split 1,437 images, {epochs} epochs per model (batch 64, each
family's default hyperparameters), one CPU thread. GANs are compared at equal generator steps:
WGAN-GP's critic steps 5 times per generator step, so it trains 5 times the epochs. Metrics on
1,000 samples against the held-out test split (360 images); features: `{floor['features']}` (the
shipped classifier, 99.4 % held-out accuracy). GAN rows: mean ± half-range over seeds {', '.join(map(str, gan_seeds))}.
The `rbm` and `ebm` rows are the sampling plugin's models, trained by MCMC (persistent contrastive
divergence with block Gibbs sampling; short-run Langevin with a replay buffer) through the same
`image` task and measured by the same code; uniform noise is scored as a baseline.

Real-versus-real floor (1,000 train images vs the test split, same features): FID
{floor['fid_real_floor']:.3f}, KID ×100 {100 * floor['kid_real_floor']:.2f}, Inception Score of the test images
{floor['inception_score_real']:.2f}. A perfect model would land near the floor.

{chr(10).join(rows)}
{"" if not unmeasured else chr(10) + "Not measured in this run:" + not_measured + chr(10)}
{collapse_note(results)}

Coverage is the share of the 10 digit classes the classifier finds among the samples; max class
share is the largest class's share (0.1 when balanced, 1.0 when collapsed to one digit).
*Measured*: fresh in this run, or read from the cache (kept per code hash) and when.
Bits/dim is exact only for the flows and PixelCNN (test split, over the 17 grey levels of the
digits; the flows' number is a one-draw dequantisation bound). The Parzen log-likelihood
(Goodfellow et al. 2014) is in nats per 64-pixel image, bandwidth chosen on half of the test
split, scored on the other half.
"""
    command = "python bench/image_models.py" + (" --quick" if args.quick else "") + \
        "".join(f" --skip {text!r}" for text in args.skip)
    write_section("image_models", command, body)
    print(body)


if __name__ == "__main__":
    main()
