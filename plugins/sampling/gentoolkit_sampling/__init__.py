"""gentoolkit's sampling plugin: MCMC (random-walk MH, Gibbs, HMC/NUTS, MALA/ULA) on any
differentiable log-density, including any registry model with a continuous density, with arviz
diagnostics.

Only the ``@hookimpl`` functions live here; everything they register imports torch, arviz and
scikit-learn inside the registered callables, so importing this package stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from gentoolkit.contributions import Model, Task
from gentoolkit.hookspecs import hookimpl

DOMAIN = "sampling"


@hookimpl
def add_hookspecs(pluginmanager) -> None:
    from gentoolkit_sampling import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@hookimpl
def register_targets(register) -> None:
    from gentoolkit_sampling.targets.builtin import register_builtin_targets

    register_builtin_targets(register)


def _create_rbm(**params):
    from gentoolkit_sampling.rbm import BernoulliRBM

    return BernoulliRBM(**params)


def _rbm_schema():
    from gentoolkit_sampling.rbm import DEFAULTS

    return DEFAULTS


def _create_ebm(**params):
    from gentoolkit_sampling.ebm import ConvEBM

    return ConvEBM(**params)


def _ebm_schema():
    from gentoolkit_sampling.ebm import DEFAULTS

    return DEFAULTS


@hookimpl
def register_models(register) -> None:
    register(Model("rbm", _create_rbm, "Bernoulli RBM on binarised images, trained by contrastive divergence "
                   "(CD-k or persistent CD) with block Gibbs sampling", DOMAIN, params=_rbm_schema,
                   capabilities=("sample", "train"), items="image"))
    register(Model("ebm", _create_ebm, "Convolutional energy-based model on images, trained with short-run "
                   "Langevin dynamics and a replay buffer (Du & Mordatch 2019)", DOMAIN, params=_ebm_schema,
                   capabilities=("sample", "train"), items="image"))


def _run_task(runtime, config):
    from gentoolkit_sampling.task import run

    return run(runtime, config)


@hookimpl
def register_tasks(register) -> None:
    from gentoolkit_sampling.defaults import DEFAULTS, RANGES

    register(Task("sampling", _run_task, DEFAULTS,
                  "MCMC: NUTS and random-walk MH on a banana and a Bayesian logistic regression by default, "
                  "with R-hat/ESS diagnostics, trace/rank/pair plots", DOMAIN, RANGES))


@hookimpl
def register_commands(cli) -> None:
    import typer

    @cli.app.command("sample")
    def sample(
        target: str = typer.Option("banana", "--target", "-t",
                                   help="Registered target(s), comma-separated, or model:<name or model.json>."),
        sampler: str = typer.Option("nuts", "--sampler", help="nuts | hmc | rwmh | mala | ula | sgld | gibbs | mwg | imh (discrete)."),
        chains: int = typer.Option(4, help="Chains, run as one batch."),
        warmup: int = typer.Option(1000, help="Warm-up (adaptation) iterations per chain."),
        samples: int = typer.Option(1000, help="Draws kept per chain."),
        list_targets: bool = typer.Option(False, "--list", help="List the registered targets and their params."),
        device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N | mps"),
        seed: int = typer.Option(0, help="Same seed, same chains."),
        out: Optional[Path] = typer.Option(None, help="Run folder (default runs/sampling/<timestamp>)."),
    ) -> None:
        """Run MCMC on a target and print its diagnostics (R-hat, bulk/tail ESS, ESS per evaluation)."""
        if list_targets:
            registry = cli.toolkit.contributions("register_targets", "target")
            for entry in registry.entries():
                params = ", ".join(f"{k}={v}" for k, v in entry.value.params.items())
                print(f"{entry.name:26} {entry.value.description} [{entry.plugin}] ({params})")
            return
        overrides = {"target": target, "sampler": sampler, "num_chains": chains, "num_warmup": warmup,
                     "num_samples": samples, "ebm": {"epochs": 0}}
        cli.print_result(cli.toolkit.run("sampling", None, overrides, cli.runtime_options(device, seed=seed, out=out)))
