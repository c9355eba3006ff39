"""The ``sampling`` task: run each configured sampler on each configured target, diagnose the
chains with arviz, print one table and write plots, draws and ``metrics.json`` to the run folder;
then train the energy-based model on digits and score its samples (``ebm.epochs = 0`` skips it).

Targets come from every plugin's ``register_targets`` hook, or are any registry model with a
continuous density (``target = "model:<name or saved model.json>"``), reached through the toolkit.
"""

from __future__ import annotations

import json
import time
from typing import Any

from gentoolkit.config import merge
from gentoolkit.contributions import RunResult
from gentoolkit.errors import ConfigError

MODEL_PREFIX = "model:"
SUMMARY_KEYS = ("r_hat_max", "ess_bulk_min", "ess_tail_min", "ess_per_eval", "ess_per_second", "accept_rate",
                "divergences")


def names(value: str, what: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise ConfigError(f"Config key {what!r} names nothing; give one or more names separated by commas.")
    return items


def target_registry(toolkit: Any) -> Any:
    return toolkit.contributions("register_targets", "target")


def build_target(toolkit: Any, name: str, params: dict[str, Any], device: str = "cpu") -> Any:
    """The target ``name`` (a registered one, or ``model:<ref>``) built with ``params``."""
    if name.startswith(MODEL_PREFIX):
        from gentoolkit_sampling.targets.model import model_target

        return model_target(toolkit, name[len(MODEL_PREFIX):], device)
    spec = target_registry(toolkit)[name]
    params = merge(spec.params, params, where=f"targets.{name}")
    return spec.create(toolkit=toolkit, **params) if spec.needs_toolkit else spec.create(**params)


def run(runtime: Any, config: dict[str, Any]) -> RunResult:
    from gentoolkit_sampling.diagnostics import per_parameter, summarize, to_inference_data
    from gentoolkit_sampling.samplers.base import run_chains
    from gentoolkit_sampling.samplers.catalog import make_sampler

    target_names = names(config["target"], "target") if config["target"] else []
    sampler_names = names(config["sampler"], "sampler")
    samplers = {name: make_sampler(name, config.get(name)) for name in sampler_names}  # refuse bad params early
    rows, metrics, details, artifacts = [], {}, {}, {}
    iterations = config["num_warmup"] + config["num_samples"]
    for t, target_name in enumerate(target_names):
        target = build_target(runtime.toolkit, target_name, dict(config["targets"].get(target_name, {})),
                              str(runtime.device))
        for s, (sampler_name, sampler) in enumerate(samplers.items()):
            with runtime.progress(iterations, f"{sampler_name} on {target_name}") as advance:
                chains = run_chains(sampler, target, num_chains=config["num_chains"], num_warmup=config["num_warmup"],
                                    num_samples=config["num_samples"], generator=runtime.generator(100 * t + s),
                                    progress=advance)
            idata = to_inference_data(chains)
            summary = summarize(chains, idata)
            key = f"{_slug(target_name)}.{sampler_name}"
            rows.append((target_name, sampler_name, summary))
            metrics.update({f"{key}.{k}": summary[k] for k in SUMMARY_KEYS})
            details[key] = {"summary": summary, "parameters": per_parameter(chains, idata), "sampler": chains.extra,
                            "target": target.describe()}
            if runtime.is_main:
                folder = runtime.out_dir / _slug(target_name) / sampler_name
                runtime.save_checkpoint(str(folder / "draws"), {"samples": chains.samples.float(),
                                                               "accept_prob": chains.accept_prob.float(),
                                                               "diverging": chains.diverging},
                                        {"param_names": chains.param_names, "target": target_name,
                                         "sampler": sampler_name})
                if chains.items is not None:
                    artifacts[f"{key}.draws"] = write_items(chains, folder / "draws.tsv")
                if config["plots"]:
                    from gentoolkit_sampling.plots import save_plots

                    for kind, path in save_plots(idata, chains.param_names, folder, config["plot_params"]).items():
                        artifacts[f"{key}.{kind}"] = path
    if rows:
        runtime.console.print(diagnostics_table(rows))
    if config["ebm"]["epochs"] > 0:
        from gentoolkit_sampling.energy import train_and_score

        ebm_metrics, ebm_artifacts, details["ebm"] = train_and_score(runtime, config["ebm"])
        metrics.update(ebm_metrics)
        artifacts.update(ebm_artifacts)
    if runtime.is_main:
        record = {"config": config, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "runs": details}
        (runtime.out_dir / "metrics.json").write_text(json.dumps(record, indent=2, default=str))
        artifacts["metrics"] = runtime.out_dir / "metrics.json"
    return RunResult("sampling", runtime.out_dir, metrics, artifacts, {"runs": details})


def diagnostics_table(rows: list[tuple[str, str, dict[str, float]]]) -> Any:
    """One rich table row per (target, sampler): worst R-hat and ESS, efficiency, acceptance, divergences.
    Red: R-hat >= 1.01, or bulk/tail ESS under 100 per chain (Vehtari et al. 2021: below that R-hat itself
    is unreliable). Narrow enough for an 80-column terminal; evaluation counts are in metrics.json."""
    from rich import box
    from rich.table import Table

    table = Table(title="MCMC diagnostics, worst parameter (arviz)", box=box.SIMPLE_HEAD, padding=0,
                  pad_edge=False, collapse_padding=True)
    for column in ("target / sampler", "R-hat", "bulk", "tail", "ESS/eval", "ESS/s", "acc", "div", "s"):
        table.add_column(column, justify="left" if column.startswith("target") else "right", no_wrap=True)
    for target, sampler, s in rows:
        rhat, low_ess = f"{s['r_hat_max']:.3f}", 100 * s["num_chains"]
        bulk, tail = (f"{s[key]:.0f}" if s[key] >= low_ess else f"[red]{s[key]:.0f}[/]"
                      for key in ("ess_bulk_min", "ess_tail_min"))
        table.add_row(f"{target} / {sampler}", rhat if s["r_hat_max"] < 1.01 else f"[red]{rhat}[/]", bulk, tail,
                      f"{s['ess_per_eval']:.4f}",
                      f"{s['ess_per_second']:.0f}", f"{s['accept_rate']:.2f}", f"{s['divergences']:.0f}",
                      f"{s['seconds_warmup'] + s['seconds_sampling']:.1f}")
    return table


def write_items(chains: Any, path: Any) -> Any:
    """A discrete target's draws, one line each: chain, draw, the item (a SMILES) and its summaries."""
    lines = ["\t".join(["chain", "draw", "item", *chains.param_names])]
    for c, items in enumerate(chains.items):
        for n, item in enumerate(items):
            lines.append("\t".join([str(c), str(n), str(item), *(f"{v:.6g}" for v in chains.samples[c, n].tolist())]))
    path.write_text("\n".join(lines) + "\n")
    return path


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
