"""A third-party consumer, knowing nothing of the image plugin: it loads any saved image model
through the toolkit, scores images of any image dataset with ``log_prob`` and draws samples."""

from gentoolkit import ConfigError, Density, RunResult, Sampler, Task, hookimpl


def score(runtime, config):
    import torch

    model = runtime.toolkit.load_model(config["model"])
    if not isinstance(model, Density) or model.item_spec.kind != "image":
        raise ConfigError(f"{config['model']} is not an image density model.")
    dataset = runtime.toolkit.load_dataset(config["dataset"], split="test")
    images = torch.stack([dataset[i][0] for i in range(config["n"])])
    with torch.no_grad():
        scores, noise_scores = model.log_prob(images), model.log_prob(torch.rand_like(images))
    samples = model.sample(config["n"], generator=runtime.generator()) if isinstance(model, Sampler) else None
    metrics = {"mean_log_prob": float(scores.mean()), "noise_mean_log_prob": float(noise_scores.mean())}
    return RunResult("score-images", runtime.out_dir, metrics, outputs={"scores": scores, "samples": samples,
                                                                        "kind": model.likelihood_kind})


@hookimpl
def register_tasks(register):
    register(Task("score-images", score, {"model": "", "dataset": "digits", "n": 32},
                  "Score images with any saved image density model (third-party test plugin)"))
