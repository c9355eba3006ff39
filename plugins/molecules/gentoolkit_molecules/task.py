"""The ``molecules`` task: ``gentoolkit run molecules`` in one of five modes.

``rl`` (default) and ``staged_rl`` optimise the prior towards the ``[scoring]`` objective with
REINVENT's algorithm; ``sample`` draws from a prior; ``score`` scores a molecule file;
``transfer_learning`` fine-tunes the prior on a dataset. Every config error (mode, scoring
components, SMILES, SMARTS, stages, files) is raised before any sampling or training starts.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from gentoolkit.contributions import RunResult
from gentoolkit.errors import ConfigError, UnknownNameError
from gentoolkit.runtime import Runtime
from gentoolkit_molecules import outputs
from gentoolkit_molecules.diversity import DiversityFilter

TASK = "molecules"


def run(runtime: Runtime, config: dict[str, Any]) -> RunResult:
    mode = config["mode"]
    if runtime.distributed:
        raise ConfigError("The molecules task runs in one process (REINVENT's learning is sequential); "
                          "start it with `gentoolkit run molecules`, not torchrun.")
    if mode not in MODES:
        raise ConfigError(f"Unknown mode {mode!r} in the molecules config; use one of {', '.join(MODES)}.")
    return MODES[mode](runtime, config)


def _model_card(runtime: Runtime, prior: Any) -> dict[str, Any]:
    """The core's model card for a trained prior, so ``Toolkit.load_model`` reads it back."""
    from gentoolkit.models import CARD_KEY

    size = {k: v for k, v in prior.config.items() if k != "kind"}
    return {CARD_KEY: runtime.toolkit.card_for(f"prior-{prior.config['kind']}", size).to_json()}


def load_prior(path: str, device: Any):
    from gentoolkit_molecules.prior import Prior

    return Prior.load(path or None, device=str(device))


# --- reinforcement learning ------------------------------------------------------------------


def _components(runtime: Runtime) -> Any:
    """Every scoring component plugins registered, through the toolkit running this task."""
    return runtime.toolkit.contributions("register_scoring_components", "scoring component")


def _stages(config: dict[str, Any], staged: bool, components: Any, runtime: Runtime) -> list[tuple[str, Any, Any]]:
    """(name, RLConfig, ScoringFunction) per stage, every scoring config built (and checked) now."""
    from gentoolkit_molecules.rl import RLConfig
    from gentoolkit_molecules.scoring.function import build_scoring_function

    if not staged:
        scoring = build_scoring_function(_scoring(config), components, runtime)
        return [("rl", RLConfig.from_dict(config["rl"]), scoring)]
    if not config["stages"]:
        raise ConfigError("mode = 'staged_rl' needs [[stages]] tables, each with a name, [stages.scoring] "
                          "and [rl] keys such as max_steps and score_threshold (see configs/staged_rl.toml).")
    stages, names = [], set()
    for i, stage in enumerate(config["stages"], 1):
        if not isinstance(stage, dict):
            raise ConfigError(f"[[stages]] entry {i} must be a table.")
        stage = dict(stage)
        name = str(stage.pop("name", f"stage{i}"))
        if name in names or not name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"[[stages]] entry {i}: name {name!r} must be unique and use letters, digits, - or _.")
        names.add(name)
        scoring = stage.pop("scoring", None)
        if scoring is None:
            raise ConfigError(f"[[stages]] entry {i} ({name}) needs a [stages.scoring] table.")
        rl = RLConfig.from_dict({**config["rl"], **stage}, where=f"stages.{name}")
        stages.append((name, rl, build_scoring_function(scoring, components, runtime)))
    return stages


def _scoring(config: dict[str, Any]) -> dict[str, Any]:
    """The ``[scoring]`` table, or the PMO oracle that ``objective`` names."""
    from gentoolkit_molecules.scoring.pmo import PMO_ORACLES

    if not config["objective"]:
        return config["scoring"]
    if config["objective"] not in PMO_ORACLES:
        raise UnknownNameError("objective", config["objective"], PMO_ORACLES,
                               f"Only these {len(PMO_ORACLES)} of PMO's 23 oracles are built in. For any other "
                               "objective, write a [scoring] table of components, or plug your oracle in as a "
                               "scoring component (plugins/molecules/docs/scoring_components.md).")
    return PMO_ORACLES[config["objective"]]


def _rl(runtime: Runtime, config: dict[str, Any]) -> RunResult:
    from gentoolkit_molecules.rl import run_stages

    staged = config["mode"] == "staged_rl"
    stages = _stages(config, staged, _components(runtime), runtime)
    DiversityFilter.from_config(config["diversity_filter"])  # check it before any work
    prior = load_prior(config["prior"], runtime.device)
    start = time.perf_counter()
    try:
        agent, results = run_stages(runtime, prior, stages,
                                    lambda: DiversityFilter.from_config(config["diversity_filter"]), staged)
    finally:
        for _, _, scoring in stages:
            scoring.close()  # stops worker processes of parallel scoring
    artifacts = {"agent": agent.save(runtime.out_dir / "agent", card={"trained_by": "gentoolkit molecules rl"},
                                     metadata=_model_card(runtime, agent))}
    for path in sorted({p for _, _, scoring in stages for p in scoring.pose_files}):
        artifacts[f"poses/{path.name}"] = runtime.generated(path, "molecules")
    metrics: dict[str, float] = {}
    for result in results:
        folder = result.log_path.parent
        found = _write_design(folder, result, config["output"], runtime)
        prefix = f"{result.name}/" if staged else ""
        metrics.update({f"{prefix}{k}": v for k, v in found.items()})
        artifacts.update({f"{prefix}{p.stem}{p.suffix}": p for p in folder.iterdir()
                          if p.suffix in (".csv", ".sdf", ".png") or p.name == "checkpoint.json"})
    metrics["wall_time_s"] = time.perf_counter() - start
    outputs.write_metrics(runtime.out_dir / "metrics.json", metrics)
    artifacts["metrics"] = runtime.out_dir / "metrics.json"
    best = outputs.best(*outputs.read_scored(results[-1].log_path), config["output"]["grid"])
    return RunResult(TASK, runtime.out_dir, metrics, artifacts,
                     {"best": best, "history": [r.history for r in results], "stopped": [r.reason for r in results]})


def _write_design(folder: Path, result, output: dict[str, int], runtime: Runtime) -> dict[str, float]:
    """top.sdf, top.png, learning_curve.png and the stage's metrics, all read back from its CSV."""
    from gentoolkit_molecules.evaluate import pmo_top_k_auc

    smiles, scores = outputs.read_scored(result.log_path)
    top = outputs.best(smiles, scores, output["top_n"])
    runtime.generated(result.log_path, "molecules")
    if top:
        runtime.generated(outputs.write_sdf(folder / "top.sdf", top), "molecules")
        if grid := outputs.draw_grid(folder / "top.png", top[:output["grid"]]):
            runtime.generated(grid, "image")  # a picture of generated molecules is generated content too
    if result.history:
        outputs.plot_learning_curve(folder / "learning_curve.png", result.history,
                                    f"{result.name}: {', '.join(result.labels)}")
    ranked = np.sort(np.asarray(scores, dtype=float))[::-1]
    history = result.history
    valid = sum(h["validity"] * h["sampled"] for h in history)
    metrics = {
        "validity": valid / max(sum(h["sampled"] for h in history), 1),
        "uniqueness": len(smiles) / valid if valid else 0.0,
        "top1_mean": float(ranked[:1].mean()) if ranked.size else 0.0,
        "top10_mean": float(ranked[:10].mean()) if ranked.size else 0.0,
        "top100_mean": float(ranked[:100].mean()) if ranked.size else 0.0,
        "oracle_calls": len(smiles),
        "steps": len(history),
        "stage_wall_time_s": result.wall_time,
    }
    # PMO's top-10 AUC, computed on this run's objective and budget: only a PMO oracle at 10,000
    # calls gives a number comparable with PMO's tables, so the budget is reported beside it.
    budget = result.budget or len(smiles)
    metrics["auc_top10"] = pmo_top_k_auc(smiles, scores, budget, k=10, freq=100) if smiles else 0.0
    metrics["auc_top10_budget"] = budget
    runtime.log(f"{result.name}: {len(smiles)} molecules scored; top-10 mean {metrics['top10_mean']:.3f}, "
                f"best {metrics['top1_mean']:.3f}; outputs in {folder}")
    return metrics


# --- sampling, scoring, transfer learning ----------------------------------------------------


def report_skipped(config: dict[str, Any], molecules):
    """Report the invalid records of a molecule file (count, first line), or refuse them with ``strict``."""
    from gentoolkit.errors import skip_bad_records
    from gentoolkit_molecules.data import DataError

    bad = [(f"line {line}", f"{text!r} is not a valid SMILES") for line, text in molecules.invalid]
    total = len(molecules.smiles) + molecules.duplicates + len(bad)
    skip_bad_records(molecules.source, bad, total, config["strict"], "molecules", DataError)
    return molecules


def _reference_smiles(config: dict[str, Any], reference: str) -> list[str]:
    from gentoolkit_molecules.data import load_default, read_molecules

    if not reference:
        return []
    return load_default().smiles if reference == "default" else report_skipped(config, read_molecules(reference)).smiles


def _sample(runtime: Runtime, config: dict[str, Any]) -> RunResult:
    from gentoolkit_molecules import evaluate
    from gentoolkit_molecules.data import standardise

    options = config["sample"]
    n = options["num_molecules"]
    reference = _reference_smiles(config, options["reference"])
    prior = load_prior(config["prior"], runtime.device)
    smiles, nll = _draw(runtime, prior, n, options["temperature"])
    canonical = [standardise(s) for s in smiles]
    log = outputs.MoleculeLog(runtime.out_dir / "molecules.csv", ["smiles", "canonical", "valid", "nll"])
    log.append([s, c or "", int(c is not None), v] for s, c, v in zip(smiles, canonical, nll))
    valid = [c for c in canonical if c is not None]
    metrics = {"validity": evaluate.validity(smiles), "uniqueness": evaluate.uniqueness(smiles),
               "mean_nll": float(np.mean(nll))}
    if valid:
        metrics["internal_diversity"] = evaluate.internal_diversity(valid)
        metrics["scaffold_diversity"] = evaluate.scaffold_diversity(valid)
        if reference:
            metrics["novelty"] = evaluate.novelty(valid, reference)
    likely = outputs.best(canonical, [-v for v in nll], config["output"]["grid"])
    artifacts = {"molecules": runtime.generated(log.path, "molecules")}
    if likely:
        artifacts["grid"] = runtime.generated(outputs.draw_grid(runtime.out_dir / "top.png", likely, legend="logL"),
                                              "image")
    artifacts["metrics"] = outputs.write_metrics(runtime.out_dir / "metrics.json", metrics)
    return RunResult(TASK, runtime.out_dir, metrics, artifacts, {"smiles": smiles})


def _draw(runtime: Runtime, prior, n: int, temperature: float, batch: int = 256) -> tuple[list[str], list[float]]:
    import torch

    generator = runtime.generator()
    smiles: list[str] = []
    nll: list[float] = []
    with torch.no_grad(), runtime.progress(n, "sampling") as advance:
        while len(smiles) < n:
            samples = prior.sample_sequences(min(batch, n - len(smiles)), temperature=temperature, generator=generator)
            smiles += samples.smiles
            nll += (-samples.log_likelihood.float().cpu()).tolist()
            advance(len(samples.smiles))
    return smiles, nll


def _score(runtime: Runtime, config: dict[str, Any]) -> RunResult:
    from gentoolkit_molecules.data import read_molecules
    from gentoolkit_molecules.scoring.function import build_scoring_function

    if not config["score"]["input"]:
        raise ConfigError("mode = 'score' needs score.input: a .smi, .csv or .sdf file of molecules.")
    scoring = build_scoring_function(_scoring(config), _components(runtime), runtime)
    molecules = report_skipped(config, read_molecules(config["score"]["input"]))
    log = outputs.MoleculeLog(runtime.out_dir / "molecules.csv", outputs.log_columns(scoring.labels))
    chunk = 500
    with scoring, runtime.progress(len(molecules.smiles), "scoring") as advance:
        for i in range(0, len(molecules.smiles), chunk):
            result = scoring(molecules.smiles[i:i + chunk])
            log.append(outputs.scored_rows(0, result, result.total))
            advance(len(result.smiles))
    smiles, scores = outputs.read_scored(log.path)
    top = outputs.best(smiles, scores, config["output"]["top_n"])
    artifacts = {"molecules": log.path, **{f"poses/{p.name}": p for p in sorted(scoring.pose_files)}}
    if top:
        artifacts["sdf"] = outputs.write_sdf(runtime.out_dir / "top.sdf", top)
        artifacts["grid"] = outputs.draw_grid(runtime.out_dir / "top.png", top[:config["output"]["grid"]])
    ranked = np.sort(np.asarray(scores))[::-1]
    metrics = {"molecules": len(smiles), "invalid_skipped": len(molecules.invalid), "mean_score": float(ranked.mean()),
               "top1_mean": float(ranked[:1].mean()), "top10_mean": float(ranked[:10].mean()),
               "top100_mean": float(ranked[:100].mean())}
    artifacts["metrics"] = outputs.write_metrics(runtime.out_dir / "metrics.json", metrics)
    return RunResult(TASK, runtime.out_dir, metrics, {k: v for k, v in artifacts.items() if v is not None},
                     {"best": top[:config["output"]["grid"]]})


def _transfer_learning(runtime: Runtime, config: dict[str, Any]) -> RunResult:
    from gentoolkit_molecules import evaluate
    from gentoolkit_molecules.data import standardise
    from gentoolkit_molecules.training import train_prior

    options = config["transfer_learning"]
    molecules = report_skipped(config, _dataset(runtime, options["dataset"]))
    prior = load_prior(config["prior"], runtime.device)
    history = train_prior(prior, molecules.smiles, runtime, epochs=options["epochs"],
                          batch_size=options["batch_size"], lr=options["learning_rate"],
                          valid_fraction=options["valid_fraction"], checkpoint_name="transfer_learning")
    model = prior.save(runtime.out_dir / "model", card={"fine_tuned_on": molecules.source,
                                                         "molecules": len(molecules.smiles),
                                                         "epochs": options["epochs"]},
                       metadata=_model_card(runtime, prior))
    smiles, _ = _draw(runtime, prior, options["num_samples"], 1.0)
    valid = [c for c in map(standardise, smiles) if c is not None]
    metrics = {"validity": evaluate.validity(smiles), "uniqueness": evaluate.uniqueness(smiles),
               "novelty": evaluate.novelty(valid, molecules.smiles) if valid else 0.0,
               "train_nll": float(history[-1]["train_nll"]) if history else float("nan"),
               "valid_nll": float(history[-1]["valid_nll"]) if history else float("nan")}
    why = {"train_nll": "no epoch was trained",
           "valid_nll": "no validation split (transfer_learning.valid_fraction = 0)" if history else "no epoch was trained"}
    artifacts = {"model": model, "metrics": outputs.write_metrics(runtime.out_dir / "metrics.json", metrics, why)}
    if history:
        artifacts["learning_curve"] = outputs.plot_training(runtime.out_dir / "learning_curve.png", history)
    if valid:
        grid = [(s, 0.0) for s in dict.fromkeys(valid)][:config["output"]["grid"]]
        if drawn := outputs.draw_grid(runtime.out_dir / "samples.png", grid, legend=None):
            artifacts["grid"] = runtime.generated(drawn, "image")
    return RunResult(TASK, runtime.out_dir, metrics, {k: v for k, v in artifacts.items() if v is not None},
                     {"smiles": smiles, "history": history})


def _dataset(runtime: Runtime, name: str):
    """A registered SMILES dataset (``default``, ``moses-train``, ...) or a molecule file."""
    from gentoolkit_molecules.data import read_molecules

    datasets = runtime.toolkit.datasets
    if name in datasets and datasets[name].items == "smiles":
        return datasets[name].load()
    if not Path(name).exists():
        datasets.get(name)  # raises UnknownNameError with the close names
    return read_molecules(name)


MODES: dict[str, Callable[[Runtime, dict[str, Any]], RunResult]] = {
    "rl": _rl, "staged_rl": _rl, "sample": _sample, "score": _score, "transfer_learning": _transfer_learning,
}
