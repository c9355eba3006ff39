"""gentoolkit's image plugin: generative image models, datasets and evaluators.

Only the hook implementations live here; every registered callable imports torch and the
plugin's modules when it is called, so loading the plugin costs nothing.
"""

from __future__ import annotations

from typing import Any, Callable

from gentoolkit import hookimpl

DOMAIN = "image"
FAMILIES = {
    "vae": "convolutional VAE with a beta-weighted KL",
    "gan": "DCGAN with NS or WGAN-GP loss, minibatch discrimination or minibatch stddev",
    "realnvp": "RealNVP flow, multi-scale affine couplings, exact log-likelihood",
    "glow": "Glow flow: actnorm, invertible 1x1 convolutions, affine couplings",
    "pixelcnn": "gated PixelCNN, exact log-likelihood, class-conditional",
    "ddpm": "DDPM with a small UNet, DDPM and DDIM sampling",
    "cyclegan": "CycleGAN-style unpaired image-to-image translation",
}
DATASETS = {
    "digits": "scikit-learn's 8x8 digits (1,797 images, 10 classes), optionally upscaled",
    "image-folder": "PNG/JPEG images in a folder, one subfolder per class",
    "mnist": "MNIST from your idx-ubyte(.gz) files",
    "fashion-mnist": "Fashion-MNIST from your idx-ubyte(.gz) files",
    "cifar10": "CIFAR-10 from your binary batches (cifar-10-batches-bin)",
}


EVALUATORS = {
    "fid": "Fréchet distance between feature Gaussians of samples and reference images",
    "kid": "Kernel distance: unbiased MMD² with the cubic polynomial kernel, over subsets",
    "inception-score": "exp(E KL(p(y|x) || p(y))) on the feature classifier's probabilities",
    "parzen": "Gaussian KDE log-likelihood of reference images, bandwidth chosen on half of them",
    "precision-recall": "k-NN manifold precision and recall (Kynkäänniemi et al. 2019)",
    "class-coverage": "share of classes the classifier finds in the samples, entropy, largest share",
}


def _create(family: str) -> Callable[..., Any]:
    def create(image_shape: tuple[int, int, int] = (1, 8, 8), num_classes: int = 0, **params: Any) -> Any:
        from gentoolkit_image.models import create_model

        return create_model(family, image_shape, num_classes, **params)

    return create


def _load(name: str) -> Callable[..., Any]:
    def load(path: str = "", **params: Any) -> Any:
        from gentoolkit_image.data import load_dataset

        return load_dataset("folder" if name == "image-folder" else name, path, **params)

    return load


def _evaluate(metric: str) -> Callable[..., Any]:
    def evaluate(samples: Any, **params: Any) -> Any:
        from gentoolkit_image.metrics import evaluator

        return evaluator(metric)(samples, **params)

    return evaluate


def _run(runtime: Any, config: dict[str, Any]) -> Any:
    from gentoolkit_image.task import run

    return run(runtime, config)


@hookimpl
def register_models(register: Callable) -> None:
    from gentoolkit.contributions import Model

    for family, description in FAMILIES.items():
        register(Model(name=f"image-{family}", create=_create(family), description=description, domain=DOMAIN))


@hookimpl
def register_datasets(register: Callable) -> None:
    from gentoolkit.contributions import Dataset

    for name, description in DATASETS.items():
        register(Dataset(name=name, load=_load(name), description=description, domain=DOMAIN))


@hookimpl
def register_evaluators(register: Callable) -> None:
    from gentoolkit.contributions import Evaluator

    for metric, description in EVALUATORS.items():
        register(Evaluator(name=f"image-{metric}", evaluate=_evaluate(metric), description=description, domain=DOMAIN))


@hookimpl
def register_tasks(register: Callable) -> None:
    from gentoolkit.contributions import Task

    from gentoolkit_image.task import DEFAULTS

    register(Task(name="image", run=_run, config=DEFAULTS, domain=DOMAIN,
                  description="Train an image model family (--set model=vae|gan|ddpm|...), sample it and "
                              "measure FID/KID/IS/precision/recall/coverage/Parzen/bits-per-dim."))


@hookimpl
def register_commands(cli: Any) -> None:
    from gentoolkit_image.commands import add_commands

    add_commands(cli)
