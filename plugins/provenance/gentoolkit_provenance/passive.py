"""A passive real-vs-generated detector for 8x8 digits, in the spirit of Wang et al. 2020: train on
real digits against ONE generator family's samples, then measure it on families it never saw.

Every generator comes from the registry (any model with items "image" and the "sample" and
"train" capabilities), trained briefly on the digits dataset through the core loop. The detector
is a logistic regression on pixels plus the magnitude of their 2-D Fourier transform (where
upsampling and decoder artefacts show). It is stored as safetensors + JSON, never pickled.
What it cannot do: it knows 8x8 grey digits only, it is no proof of anything (a score, not a
signature), and a family it has not seen may fool it: the per-family AUROC says how much.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gentoolkit.contributions import RunResult
from gentoolkit.errors import ConfigError

__all__ = ["DEFAULTS", "RANGES", "SHIPPED", "features", "run_passive", "load_detector", "score", "opinion",
           "grid_tiles"]

DEFAULTS: dict[str, Any] = {
    "train_family": "image-vae",  # the one generator whose samples the detector is trained against
    "families": ["image-vae", "image-gan", "image-pixelcnn", "image-realnvp", "image-glow"],  # all evaluated
    "epochs": 15,  # each generator's training on the digits train split
    "batch_size": 64,
    "samples": 600,  # generated images per family (half to train on for train_family, half held out)
}
RANGES = {"epochs": ">= 1", "batch_size": ">= 1", "samples": ">= 20"}
NAME = "passive_detector"
SHIPPED = Path(__file__).parent / "data" / f"{NAME}.json"  # the default run's detector, used by `detect`
GRID_GREY = 128.0  # save_grid's lines: 0.5 in [0, 1], as uint8
GRID_TOLERANCE = 12.0  # grey levels a line may stray (the image watermark moves pixels by up to about 6)


def features(images: np.ndarray) -> np.ndarray:
    """(N, 1, H, W) in [0, 1] -> (N, 2 H W): pixels and log-magnitudes of their 2-D FFT."""
    flat = images.reshape(len(images), -1)
    spectrum = np.log1p(np.abs(np.fft.fft2(images[:, 0])).reshape(len(images), -1))
    return np.concatenate([flat, spectrum], axis=1)


def run_passive(runtime: Any, config: dict[str, Any]) -> RunResult:
    """The ``passive-detector`` task: generators from the registry, the detector, AUROC per family,
    and each family's AUROC for a detector trained against all the others (``auroc_left_out_*``)."""
    toolkit = runtime.toolkit
    families = list(dict.fromkeys([config["train_family"], *config["families"]]))
    usable = toolkit.names_of("models", items="image", can=["sample", "train"])
    unknown = [f for f in families if f not in usable]
    if unknown:
        raise ConfigError(f"passive-detector: {', '.join(map(repr, unknown))} cannot be trained and sampled as an "
                          f"image generator here; registered ones: {', '.join(usable)}.")
    train_set = toolkit.load_dataset("digits", split="train")
    real_train, real_test = _images(train_set), _images(toolkit.load_dataset("digits", split="test"))
    fakes = {}
    with runtime.progress(len(families), "generators") as advance:
        for family in families:
            fakes[family] = _generated(runtime, family, train_set, config)
            advance(family=family)
    half = config["samples"] // 2
    detector = _fit(real_train, [fakes[config["train_family"]][:half]])
    metrics: dict[str, float] = {}
    for family, images in fakes.items():
        held_out = images[half:] if family == config["train_family"] else images
        metrics[f"auroc_{family}" + ("_seen" if family == config["train_family"] else "")] = _auroc(
            detector, real_test, held_out)
    unseen = [v for k, v in metrics.items() if not k.endswith("_seen")]
    metrics = {"auroc_unseen_mean": float(np.mean(unseen)) if unseen else float("nan"), **metrics}
    for family in fakes if len(fakes) > 1 else []:  # Wang et al.'s question: trained on every other family
        others = _fit(real_train, [images[:half] for f, images in fakes.items() if f != family])
        metrics[f"auroc_left_out_{family}"] = _auroc(others, real_test, fakes[family])
    path = _save(runtime, detector, config, metrics)
    return RunResult("passive-detector", runtime.out_dir, metrics, {"detector": path})


def _fit(real: np.ndarray, generated: list[np.ndarray]) -> dict[str, np.ndarray]:
    """A logistic regression (standardised features, balanced classes): ``real`` 0, ``generated`` 1."""
    from sklearn.linear_model import LogisticRegression

    x = features(np.concatenate([real, *generated]))
    y = np.r_[np.zeros(len(real)), np.ones(sum(map(len, generated)))]
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    classifier = LogisticRegression(C=0.1, max_iter=2000, class_weight="balanced").fit((x - mean) / scale, y)
    return {"mean": mean, "scale": scale, "coef": classifier.coef_[0], "intercept": classifier.intercept_}


def _auroc(detector: dict[str, np.ndarray], real: np.ndarray, generated: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    scores = score(detector, np.concatenate([real, generated]))
    return float(roc_auc_score(np.r_[np.zeros(len(real)), np.ones(len(generated))], scores))


def _images(dataset: Any) -> np.ndarray:
    images = getattr(dataset, "images", None)
    if images is None:
        raise ConfigError("passive-detector needs an image dataset with .images (N, 1, 8, 8) in [0, 1].")
    return images.detach().cpu().numpy().astype(np.float64)


def _generated(runtime: Any, family: str, train_set: Any, config: dict[str, Any]) -> np.ndarray:
    """``samples`` images from ``family`` trained on the digits train split (seeded per family)."""
    import torch

    from gentoolkit.training import fit

    runtime.seed_everything()
    model = runtime.toolkit.create_model(family, image_shape=list(train_set.images.shape[1:]), classes=[])
    fit(model, train_set, runtime, epochs=config["epochs"], batch_size=config["batch_size"], name=f"generator-{family}",
        checkpoint_every=config["epochs"])
    model.eval()
    with torch.no_grad():
        samples = model.sample(config["samples"], generator=runtime.generator(7))
    return samples.detach().cpu().clamp(0, 1).numpy().astype(np.float64)


def score(detector: dict[str, np.ndarray], images: np.ndarray) -> np.ndarray:
    """Probability that each image is generated: (N, 1, 8, 8) in [0, 1] -> (N,)."""
    z = ((features(images) - detector["mean"]) / detector["scale"]) @ detector["coef"] + detector["intercept"][0]
    return 1 / (1 + np.exp(-z))


def _save(runtime: Any, detector: dict[str, np.ndarray], config: dict[str, Any], metrics: dict[str, float]) -> Path:
    import torch

    state = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in detector.items()}
    meta = {"what": "passive real-vs-generated detector for 8x8 digits (logistic regression on pixels + |FFT|)",
            "trained_against": config["train_family"], "metrics": metrics}
    return runtime.save_checkpoint(NAME, state, meta)


def load_detector(path: str | Path, with_metadata: bool = False) -> Any:
    """A detector saved by the task (its ``passive_detector.json``) as NumPy arrays (and its metadata)."""
    from gentoolkit.checkpoint import load_checkpoint

    state, metadata = load_checkpoint(path)
    missing = {"mean", "scale", "coef", "intercept"} - set(state)
    if missing:
        raise ConfigError(f"{path} is not a passive detector (it lacks {', '.join(sorted(missing))}).")
    detector = {k: v.numpy() for k, v in state.items() if k in ("mean", "scale", "coef", "intercept")}
    return (detector, metadata) if with_metadata else detector


def opinion(path: Path) -> dict[str, Any] | None:
    """The shipped detector's second opinion on a file of 8x8 grey digits (an image task's
    ``samples.safetensors``, an 8x8 PNG, or a PNG grid of them); None for any other file."""
    images = _digit_images(path)
    if images is None or not SHIPPED.is_file():
        return None
    detector, metadata = load_detector(SHIPPED, with_metadata=True)
    p = score(detector, images)
    return {"generated_probability": round(float(p.mean()), 3), "flagged": f"{int((p > 0.5).sum())}/{len(p)}",
            "detector": f"logistic regression on pixels + |FFT|, trained against {metadata['trained_against']}; "
                        f"mean AUROC {metadata['metrics']['auroc_unseen_mean']:.3f} on families it never saw",
            "caveat": "a statistical guess for 8x8 digits, not proof; it can be fooled"}


def grid_tiles(pixels: np.ndarray, tile: int = 8, pad: int = 1) -> np.ndarray | None:
    """The tiles (N, 1, tile, tile) in [0, 1] of a grid as the image plugin's ``save_grid`` writes it
    (tiles between ``pad``-pixel grey lines, enlarged by a whole factor), or None if ``pixels`` (H, W)
    is not one. Empty (all grey) cells are left out; a watermark's few grey levels are tolerated."""
    height, width = pixels.shape
    period = tile + pad
    for scale in range(1, min(height, width) // period + 1):
        rows, cols = height // scale, width // scale
        if height % scale or width % scale or (rows - pad) % period or (cols - pad) % period:
            continue
        small = pixels.reshape(rows, scale, cols, scale).mean(axis=(1, 3))  # undo the enlargement
        lines = np.zeros((rows, cols), dtype=bool)
        for start in range(pad):
            lines[start::period] = True
            lines[:, start::period] = True
        if np.abs(small[lines] - GRID_GREY).max() > GRID_TOLERANCE:
            continue
        cells = small[pad:, pad:].reshape(rows // period, period, cols // period, period)[:, :tile, :, :tile]
        cells = cells.transpose(0, 2, 1, 3).reshape(-1, 1, tile, tile)
        cells = cells[np.abs(cells - GRID_GREY).reshape(len(cells), -1).max(axis=1) > GRID_TOLERANCE]
        return cells / 255.0 if len(cells) else None
    return None


def _digit_images(path: Path) -> np.ndarray | None:
    suffix = path.suffix.lower()
    try:
        if suffix == ".safetensors":
            from safetensors.numpy import load_file

            images = load_file(str(path)).get("samples")
        elif suffix == ".png":
            from PIL import Image

            with Image.open(path) as image:
                pixels = np.asarray(image, dtype=np.float64) if image.mode == "L" else None
            if pixels is None:
                return None
            images = pixels[None, None] / 255.0 if pixels.shape == (8, 8) else grid_tiles(pixels)
        else:
            return None
    except Exception:  # an unreadable file is reported by the watermark reader, not here
        return None
    if images is None or images.ndim != 4 or images.shape[1:] != (1, 8, 8):
        return None
    return np.clip(images.astype(np.float64), 0.0, 1.0)
