"""gentoolkit's image plugin: generative image models, datasets and evaluators.

Only the hook implementations live here; every registered callable imports torch and the
plugin's modules when it is called, so loading the plugin costs nothing.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from gentoolkit import Dataset, Evaluator, Model, Task, hookimpl

DOMAIN = "image"
SAMPLE, DENSITY, ENCODE, TRAIN = "sample", "log_prob", "encode", "train"
# family: (description, capabilities of the core's model contract)
FAMILIES = {
    "vae": ("convolutional VAE with a beta-weighted KL; log_prob is the (IW)ELBO", (SAMPLE, DENSITY, ENCODE, TRAIN)),
    "gan": ("DCGAN with NS or WGAN-GP loss, minibatch discrimination or minibatch stddev", (SAMPLE, TRAIN)),
    "realnvp": ("RealNVP flow, multi-scale affine couplings, exact log-likelihood", (SAMPLE, DENSITY, TRAIN)),
    "glow": ("Glow flow: actnorm, invertible 1x1 convolutions, affine couplings", (SAMPLE, DENSITY, TRAIN)),
    "pixelcnn": ("gated PixelCNN, exact log-likelihood, class-conditional", (SAMPLE, DENSITY, TRAIN)),
    "ddpm": ("DDPM with a small UNet, DDPM and DDIM sampling; log_prob is the variational bound",
             (SAMPLE, DENSITY, TRAIN)),
    "cyclegan": ("CycleGAN-style unpaired image-to-image translation", (TRAIN,)),
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
    def create(image_shape: Sequence[int] = (1, 8, 8), classes: Sequence[str] = (), **params: Any) -> Any:
        from gentoolkit_image.models import create_model

        return create_model(family, image_shape, classes, **params)

    return create


def _schema(family: str) -> Callable[[], dict[str, Any]]:
    def schema() -> dict[str, Any]:
        from gentoolkit_image.models import param_schema

        return param_schema(family)

    return schema


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
    for family, (description, capabilities) in FAMILIES.items():
        register(Model(name=f"image-{family}", create=_create(family), description=description, domain=DOMAIN,
                       params=_schema(family), capabilities=capabilities, items="image"))


@hookimpl
def register_datasets(register: Callable) -> None:
    for name, description in DATASETS.items():
        register(Dataset(name=name, load=_load(name), description=description, domain=DOMAIN, items="image"))


@hookimpl
def register_evaluators(register: Callable) -> None:
    for metric, description in EVALUATORS.items():
        register(Evaluator(name=f"image-{metric}", evaluate=_evaluate(metric), description=description, domain=DOMAIN))


@hookimpl
def register_tasks(register: Callable) -> None:
    from gentoolkit_image.task import DEFAULTS, RANGES

    register(Task(name="image", run=_run, config=DEFAULTS, domain=DOMAIN, ranges=RANGES, headline="fid",
                  description="Train any registered image model (--set model=image-vae|image-ddpm|...), "
                              "sample it and measure FID/KID/IS/precision/recall/coverage/Parzen/bits-per-dim."))


@hookimpl
def register_commands(cli: Any) -> None:
    from gentoolkit_image.commands import add_commands

    add_commands(cli)
