"""``gentoolkit augment``: an augmented copy of a user's image folder (one subfolder per class).

The input is copied file for file, never touched; a class-conditional generator from the
registry is trained on its images, sampled near each real image, filtered and mixed in at a
ratio; the kept samples are written beside the real ones as PNG, and ``manifest.csv`` says for
every image whether it is synthetic, which model made it, with which seed.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gentoolkit_augmentation.pipeline import AugmentationError

MANIFEST = "manifest.csv"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MANIFEST_COLUMNS = ("path", "class", "synthetic", "model", "seed", "source")


@dataclass
class AugmentOptions:
    """What ``gentoolkit augment`` takes besides the folders."""

    model: str = "image-vae"
    params: dict[str, Any] = field(default_factory=dict)  # the model's own, beside classes and image_shape
    epochs: int = 300
    batch_size: int = 16
    k: int = 10  # samples drawn per real image, before filtering
    noise: float = 0.5  # latent noise around each real image's code
    ratio: float = 1.0  # synthetic images written per real image
    confidence: float = 0.5
    knn: int = 3
    size: int = 0  # resize images to size x size (0: as they are)
    seed: int = 0
    device: str = "cpu"
    unlabelled: Path | None = None  # unlabelled images of the same kind: the pool generator (unlabelled.py) instead

    def config(self) -> dict[str, Any]:
        """The pipeline's config (as the ``augmentation`` task's) for these options."""
        return {"generator": {"model": self.model, "params": self.params, "epochs": self.epochs,
                              "batch_size": self.batch_size},
                "sample": {"k": self.k, "near_real": True, "noise": self.noise},
                "filter": {"confidence": self.confidence, "knn": self.knn},
                "classifier": {"C": 1.0, "max_iter": 2000}}


def check_folders(data: Path, out: Path, force: bool) -> None:
    """Refuse an --out that is, holds or lies inside the input, or is a non-empty folder without ``force``."""
    if not data.is_dir():
        raise AugmentationError(f"--data {data} is not a folder; give a folder with one subfolder of images per "
                                "class, or a CSV file with a label column.")
    check_out(data, out, force)


def check_out(data: Path, out: Path, force: bool) -> None:
    """Refuse an --out that is, holds or lies inside the input (a folder or a file), or is a non-empty
    folder without ``force``."""
    data, target = data.resolve(), out.resolve()
    if target == data or data in target.parents or target in data.parents:
        raise AugmentationError(f"--out {out} overlaps the input {data}; pick a folder outside it, so the "
                                "input is never written to.")
    if target.exists() and not target.is_dir():
        raise AugmentationError(f"--out {out} is a file; give a folder to write the augmented copy into.")
    if target.exists() and any(target.iterdir()) and not force:
        raise AugmentationError(f"--out {out} exists and is not empty; pick a new folder, or pass --force to "
                                "replace what is there (the input folder is never touched).")


def augment_folder(toolkit: Any, data: Path, out: Path, options: AugmentOptions, force: bool = False) -> dict[str, Any]:
    """Write the augmented copy of ``data`` to ``out``; returns the manifest path, the real count,
    synthetic images written per class, and how many were generated and kept by the filter."""
    from gentoolkit_augmentation import experiment, pipeline

    check_folders(data, out, force)
    if not options.ratio > 0:
        raise AugmentationError(f"--ratio {options.ratio}: give a ratio > 0 (synthetic images per real image).")
    if any(f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES for f in data.iterdir()):
        raise AugmentationError(f"{data} holds images outside class subfolders, so they have no label; put every "
                                "image in a subfolder named after its class.")
    dataset = toolkit.load_dataset("image-folder", path=str(data), size=options.size or None)
    if dataset.labels is None:
        raise AugmentationError(f"{data} has no class subfolders, so its images have no labels; put every image "
                                "in a subfolder named after its class.")
    x, y, classes = dataset.images.numpy(), dataset.labels.numpy(), list(dataset.classes)
    pipeline.check_labels(y, classes, f"Image folder {data}")
    if options.unlabelled is not None:
        fake, fake_y, keep = _pool_samples(toolkit, x, y, options)
    else:
        _, fake, fake_y, keep = experiment.synthesise(toolkit, options.config(), x, y, classes, options.seed,
                                                       options.device)
    mixed_x, mixed_y, synthetic = pipeline.mix(x, y, fake[keep], fake_y[keep], options.ratio, options.seed)
    return {**_write(data, out, force, classes, mixed_x[synthetic], mixed_y[synthetic], options),
            "generated": len(fake_y), "kept": int(keep.sum())}


def _pool_samples(toolkit: Any, x: np.ndarray, y: np.ndarray,
                  options: AugmentOptions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The run's winning generator on a user's folders: ``options.model`` (an autoencoder) trained on
    the labelled and the unlabelled images without labels, a Gaussian per class over its codes fitted
    by semi-supervised EM, ``k`` samples per labelled image, kept inside every real image's k-NN manifold."""
    import tempfile

    from gentoolkit.runtime import Runtime, RuntimeOptions
    from gentoolkit_augmentation import unlabelled
    from gentoolkit_augmentation.images import DEFAULTS

    folder = options.unlabelled
    if not folder.is_dir():
        raise AugmentationError(f"--unlabelled {folder} is not a folder; give a folder of images (any layout; "
                                "subfolder names are ignored).")
    extra = toolkit.load_dataset("image-folder", path=str(folder), size=options.size or None).images.numpy()
    if extra.shape[1:] != x.shape[1:]:
        raise AugmentationError(f"--unlabelled {folder} holds {extra.shape[1:]} images (channels, height, width) but "
                                f"--data holds {x.shape[1:]}; give --size to resize both to one size.")
    config = {"unlabelled": {**DEFAULTS["unlabelled"], "model": options.model, "params": options.params,
                             "epochs": options.epochs, "k": options.k, "filter": "pool"},
              "filter": {"confidence": options.confidence, "knn": options.knn}, "split_seed": options.seed}
    with tempfile.TemporaryDirectory(prefix="gentoolkit-augment-") as scratch:
        runtime_options = RuntimeOptions(device=options.device, seed=options.seed, out=Path(scratch), progress=False)
        with Runtime(runtime_options, task="augment", toolkit=toolkit) as runtime:
            pool = unlabelled.prepare(runtime, config, np.concatenate([x, extra]))
            fake, fake_y = unlabelled.variations(pool, x, y, config["unlabelled"], options.seed)
    return fake, fake_y, unlabelled.pool_filter(config, pool, None, x, y, fake, fake_y)


def _write(data: Path, out: Path, force: bool, classes: list[str], images: np.ndarray, labels: np.ndarray,
           options: AugmentOptions) -> dict[str, Any]:
    from PIL import Image

    if out.exists() and force:
        shutil.rmtree(out)
    shutil.copytree(data, out)
    rows = [(str(p.relative_to(out)), p.parent.name, 0, "", "", str(data / p.relative_to(out)))
            for p in sorted(out.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES and p.parent != out]
    counts = {c: 0 for c in classes}
    made_by = options.model + ("+class-mixture" if options.unlabelled is not None else "")
    for i, (image, label) in enumerate(zip(images, labels)):
        name = classes[label]
        path = out / name / f"synthetic-{options.model}-seed{options.seed}-{i:05d}.png"
        pixels = np.clip(np.round(image * 255), 0, 255).astype(np.uint8)
        Image.fromarray(pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0)).save(path)
        rows.append((str(path.relative_to(out)), name, 1, made_by, options.seed, ""))
        counts[name] += 1
    manifest = out / MANIFEST
    with manifest.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MANIFEST_COLUMNS)
        writer.writerows(rows)
    return {"manifest": manifest, "real": len(rows) - len(images), "synthetic": counts}
