"""The ``image`` task's CycleGAN mode: unpaired translation between a dataset (domain A) and a
transformed copy of it (domain B: inverted or rotated), shown as a translation grid.

Because domain B is a known transform of A, the translation can be scored exactly: the mean
absolute pixel error of A->B against the true transform, of the cycle A->B->A, and (on digits)
whether the shipped classifier still reads the right digit after the round trip.
"""

from __future__ import annotations

from typing import Any

import torch


@torch.no_grad()
def translation_metrics(model: Any, a: torch.Tensor, labels: torch.Tensor, domain_b: str,
                        dataset_name: str) -> dict[str, float]:
    from gentoolkit_image.data import DOMAIN_TRANSFORMS

    model.eval()
    true_b = DOMAIN_TRANSFORMS[domain_b](a)
    a2b = model.translate(a.to(model.device), direction="a2b").cpu()
    b2a = model.translate(true_b.to(model.device), direction="b2a").cpu()
    cycle = model.translate(a2b.to(model.device), direction="b2a").cpu()
    metrics = {"a2b_mae": float((a2b - true_b).abs().mean()), "b2a_mae": float((b2a - a).abs().mean()),
               "cycle_mae": float((cycle - a).abs().mean()), "identity_baseline_mae": float((a - true_b).abs().mean())}
    if dataset_name == "digits":
        from gentoolkit_image.metrics.features import digits_classifier

        classifier = digits_classifier()[0]
        metrics["b2a_class_accuracy"] = float((classifier(b2a)[1].argmax(-1) == labels).float().mean())
        metrics["features"] = "digits-cnn"
    return metrics


def run_translation(runtime: Any, config: dict[str, Any]) -> Any:
    from gentoolkit import ConfigError, RunResult

    from gentoolkit_image.data import DOMAIN_TRANSFORMS, unpaired_domains
    from gentoolkit_image.grids import save_grid, save_learning_curve
    from gentoolkit_image.task import CHECKPOINT, fit, load_splits, write_json

    if config["mode"] == "generate":
        raise ConfigError("CycleGAN translates images rather than sampling them: use mode = \"evaluate\" "
                          "with its checkpoint to draw the translation grid.")
    domain_b = config["translate"]["domain_b"]
    train_set, test = load_splits(runtime.toolkit, config["data"])
    history: list[dict[str, Any]] = []
    if config["mode"] == "evaluate":
        model = runtime.toolkit.load_model(config["checkpoint"], device=str(runtime.device))
        if not hasattr(model, "translate") or tuple(model.image_shape) != tuple(train_set.image_shape):
            raise ConfigError(f"checkpoint {config['checkpoint']} is not a CycleGAN for {train_set.image_shape} images.")
    else:
        model = runtime.toolkit.create_model("image-cyclegan", image_shape=list(train_set.image_shape),
                                             **config["params"])
        history = fit(runtime, config, model, unpaired_domains(train_set, domain_b, runtime.options.seed))
    a = test.images[:10]
    metrics = translation_metrics(model, test.images, test.labels, domain_b, test.name)
    true_b = DOMAIN_TRANSFORMS[domain_b](a)
    with torch.no_grad():
        rows = [a, model.translate(a.to(model.device), "a2b").cpu(), true_b,
                model.translate(true_b.to(model.device), "b2a").cpu()]
    out, artifacts = runtime.out_dir, {}
    if runtime.is_main:
        # rows: A, A->B, true B, B->A
        artifacts["translation.png"] = runtime.generated(save_grid(torch.cat(rows), out / "translation.png", nrow=len(a)),
                                                         "image", model=model.model_card.to_json())
        if history:
            artifacts["learning_curve.png"] = save_learning_curve(history, out / "learning_curve.png",
                                                                  f"cyclegan: {test.name} <-> {domain_b}")
            artifacts["checkpoint"] = out / f"{CHECKPOINT}.json"
        artifacts["metrics.json"] = write_json(out / "metrics.json", {**metrics, "model": model.model_card.to_json()})
    numbers = {k: v for k, v in metrics.items() if isinstance(v, float)}
    return RunResult("image", out, numbers, artifacts, {"model": model, "history": history, "metrics": metrics})
