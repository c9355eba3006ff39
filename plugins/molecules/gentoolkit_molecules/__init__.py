"""gentoolkit's molecules plugin: SMILES priors, REINVENT-style RL, scoring components, PMO oracles.

Only the ``@hookimpl`` functions live here. Everything they register imports torch and RDKit
inside the registered callables, so importing this package (and ``gentoolkit --help``) stays cheap.
The public API for scoring-plugin authors (``ScoringComponent``, ``ScoringConfigError``, ...)
is importable from here; each name loads its module on first use.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from gentoolkit.contributions import Dataset, Evaluator, Model, Task
from gentoolkit.hookspecs import hookimpl

DOMAIN = "molecules"

# The public API, by the module that defines each name (loaded on first access, PEP 562).
_PUBLIC = {
    "ScoringComponent": "gentoolkit_molecules.scoring.component",
    "ScoringConfigError": "gentoolkit_molecules.scoring.component",
    "parse_params": "gentoolkit_molecules.scoring.component",
    "ScoringFunction": "gentoolkit_molecules.scoring.function",
    "ScoreResult": "gentoolkit_molecules.scoring.function",
    "build_scoring_function": "gentoolkit_molecules.scoring.function",
    "PMO_ORACLES": "gentoolkit_molecules.scoring.pmo",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@hookimpl
def add_hookspecs(pluginmanager) -> None:
    from gentoolkit_molecules import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@hookimpl
def register_scoring_components(register) -> None:
    from gentoolkit_molecules.scoring.builtin import register_builtin_components

    register_builtin_components(register)


# --- models ----------------------------------------------------------------------------------


def _untrained_prior(kind: str) -> Callable[..., Any]:
    def create(smiles: Sequence[str] | None = None, lr: float = 1e-3, **size: Any):
        """An untrained prior whose vocabulary covers ``smiles`` (default: the embedded dataset);
        ``lr``: Adam's learning rate when the core loop trains it."""
        from gentoolkit_molecules.data import load_default
        from gentoolkit_molecules.prior import Prior
        from gentoolkit_molecules.tokenizer import Vocabulary

        vocabulary = Vocabulary.from_smiles(smiles if smiles is not None else load_default().smiles)
        prior = Prior.create(vocabulary, kind=kind, **size)
        prior.lr = lr
        return prior

    return create


def _shipped_prior(path: str = "", device: str = "cpu", lr: float = 1e-4):
    """The pretrained prior shipped with the plugin (or the one saved at ``path``); ``lr``: Adam's
    learning rate when the core loop fine-tunes it (gentoolkit.training.fit on SMILES strings)."""
    from gentoolkit_molecules.prior import Prior

    prior = Prior.load(path or None, device=device)
    prior.lr = lr
    return prior


def _save_prior(prior: Any, path: str, card: Any) -> Path:
    from gentoolkit.models import CARD_KEY

    return prior.save(path, metadata={CARD_KEY: card.to_json()})


def _load_prior(path: str, device: str = "cpu"):
    from gentoolkit_molecules.prior import Prior

    return Prior.load(path, device=device)


def _size_schema(kind: str) -> Callable[[], dict[str, Any]]:
    def schema() -> dict[str, Any]:
        from gentoolkit_molecules.prior import RNN_DEFAULTS, TRANSFORMER_DEFAULTS

        return {"smiles": None, "lr": 1e-3, **(TRANSFORMER_DEFAULTS if kind == "transformer" else RNN_DEFAULTS)}

    return schema


CAPABILITIES = ("sample", "log_prob", "train")  # of the core's model contract (gentoolkit.protocols)


@hookimpl
def register_models(register) -> None:
    for kind in ("lstm", "gru", "transformer"):
        register(Model(f"prior-{kind}", _untrained_prior(kind),
                       f"Untrained SMILES {kind.upper()} prior (REINVENT-style), vocabulary from the default set",
                       DOMAIN, params=_size_schema(kind), capabilities=CAPABILITIES, items="smiles",
                       save=_save_prior, load=_load_prior))
    for name in ("reinvent-prior", "default-prior"):
        register(Model(name, _shipped_prior, "The pretrained SMILES prior shipped with the plugin", DOMAIN,
                       params={"path": "", "device": "cpu", "lr": 1e-4}, capabilities=CAPABILITIES, items="smiles",
                       save=_save_prior, load=_load_prior))


# --- datasets --------------------------------------------------------------------------------


def _load_default(**_: Any):
    from gentoolkit_molecules.data import load_default

    return load_default()


def _moses(split: str) -> Callable[..., Any]:
    def load(**params: Any):
        from gentoolkit_molecules.data import load_moses

        return load_moses(split, **params)

    return load


@hookimpl
def register_datasets(register) -> None:
    register(Dataset("default", _load_default, "Drug-like molecules embedded in the plugin (the prior's training set)",
                     DOMAIN, items="smiles"))
    register(Dataset("moses-train", _moses("train"), "MOSES training split (local wheel/cache, or download=True)",
                     DOMAIN, items="smiles"))
    register(Dataset("moses-test", _moses("test"), "MOSES test split (local wheel/cache, or download=True)", DOMAIN,
                     items="smiles"))


# --- evaluators ------------------------------------------------------------------------------


def _reference(reference: Any) -> list[str]:
    """A reference set given as SMILES, a dataset name ("default") or a file path."""
    from gentoolkit_molecules.data import load_default, read_molecules

    if reference is None or reference == "default":
        return load_default().smiles
    if isinstance(reference, str):
        return read_molecules(reference).smiles
    return list(reference)


def _metric(name: str, needs_reference: bool = False) -> Callable[..., dict[str, float]]:
    def evaluate(samples: Sequence[str], reference: Any = None, **params: Any) -> dict[str, float]:
        from gentoolkit_molecules import evaluate as ev

        function = getattr(ev, name)
        if needs_reference:
            return {name: function(list(samples), _reference(reference), **params)}
        return {name: function(list(samples), **params)}

    return evaluate


def _top_k(samples: Sequence[float], k: int = 10) -> dict[str, float]:
    from gentoolkit_molecules.evaluate import top_k_mean

    return {f"top_{k}_mean": top_k_mean(samples, k)}


def _pmo_auc(samples: Sequence[str], scores: Sequence[float], budget: int = 10_000, k: int = 10,
             freq: int = 100) -> dict[str, float]:
    from gentoolkit_molecules.evaluate import pmo_top_k_auc

    return {f"pmo_auc_top_{k}": pmo_top_k_auc(list(samples), scores, budget, k=k, freq=freq)}


@hookimpl
def register_evaluators(register) -> None:
    for name, function, about in [
        ("validity", _metric("validity"), "Fraction of SMILES RDKit can parse"),
        ("uniqueness", _metric("uniqueness"), "Fraction of valid molecules that are unique"),
        ("novelty", _metric("novelty", True), "Fraction of unique valid molecules not in `reference`"),
        ("internal-diversity", _metric("internal_diversity"), "1 - mean pairwise Tanimoto (Morgan)"),
        ("scaffold-diversity", _metric("scaffold_diversity"), "Unique Murcko scaffolds per valid molecule"),
        ("fcd", _metric("fcd", True), "Fréchet ChemNet Distance to `reference`"),
        ("top-k", _top_k, "Mean of the k best scores (samples = scores)"),
        ("pmo-auc", _pmo_auc, "PMO's top-k AUC over oracle calls (samples = SMILES in call order, scores=...)"),
    ]:
        register(Evaluator(name, function, about, DOMAIN))


# --- tasks -----------------------------------------------------------------------------------


def _run_task(runtime, config):
    from gentoolkit_molecules.task import run

    return run(runtime, config)


@hookimpl
def register_tasks(register) -> None:
    from gentoolkit_molecules.defaults import DEFAULTS, RANGES

    register(Task("molecules", _run_task, DEFAULTS,
                  "Design molecules: REINVENT-style RL (default), staged RL, sampling, scoring or "
                  "transfer learning of a SMILES prior", DOMAIN, ranges=RANGES,
                  headline="top10_mean"))


@hookimpl
def register_commands(cli) -> None:
    import typer

    @cli.group("generate").command("molecules")
    def generate_molecules(
        prior: Optional[Path] = typer.Option(None, help="A saved prior or RL agent, e.g. runs/molecules/<run>/agent."),
        n: int = typer.Option(100, "--num", "-n", help="Molecules to sample."),
        temperature: float = typer.Option(1.0, help="Above 1: more diverse; below 1: more likely."),
        device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N | mps"),
        seed: int = typer.Option(0, help="Same seed, same molecules."),
        out: Optional[Path] = typer.Option(None, help="Run folder (default runs/molecules/<timestamp>)."),
    ) -> None:
        """Sample SMILES from a prior (default: the shipped one) and print the valid ones, one per line."""
        from gentoolkit_molecules.data import standardise

        overrides = {"mode": "sample", "prior": str(prior or ""), "sample.num_molecules": n,
                     "sample.temperature": temperature, "sample.reference": ""}
        options = cli.runtime_options(device, seed=seed, out=out, progress=False)
        result = cli.toolkit.run("molecules", None, overrides, options)
        for smiles in result.outputs["smiles"]:
            if standardise(smiles) is not None:
                print(smiles)
