"""The samplers by name, each with its parameters dataclass: what a task config's ``sampler`` names."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, Mapping

from gentoolkit.errors import ConfigError
from gentoolkit_sampling.samplers.gibbs import Gibbs, GibbsParams
from gentoolkit_sampling.samplers.hmc import HMC, HMCParams
from gentoolkit_sampling.samplers.imh import IMHParams, IndependenceMH
from gentoolkit_sampling.samplers.mala import MALA, MALAParams
from gentoolkit_sampling.samplers.mwg import MetropolisWithinGibbs, MWGParams
from gentoolkit_sampling.samplers.nuts import NUTS, NUTSParams
from gentoolkit_sampling.samplers.rwmh import RWMH, RWMHParams
from gentoolkit_sampling.samplers.sgld import SGLD, SGLDParams
from gentoolkit_sampling.samplers.ula import ULA, ULAParams

SAMPLERS: dict[str, tuple[type, type]] = {
    "nuts": (NUTS, NUTSParams),
    "hmc": (HMC, HMCParams),
    "rwmh": (RWMH, RWMHParams),
    "mala": (MALA, MALAParams),
    "ula": (ULA, ULAParams),
    "sgld": (SGLD, SGLDParams),
    "gibbs": (Gibbs, GibbsParams),
    "mwg": (MetropolisWithinGibbs, MWGParams),
    "imh": (IndependenceMH, IMHParams),  # discrete model targets (molecules-prior)
}


def make_sampler(name: str, params: Mapping[str, Any] | None = None) -> Any:
    """The sampler ``name`` built from ``params`` (its dataclass's fields; unknown keys refused)."""
    if name not in SAMPLERS:
        raise ConfigError(f"Unknown sampler {name!r}; use one of {', '.join(SAMPLERS)}.")
    cls, params_cls = SAMPLERS[name]
    known = {f.name for f in fields(params_cls)}
    unknown = set(params or {}) - known
    if unknown:
        raise ConfigError(f"Sampler {name!r} has no parameter(s) {', '.join(sorted(unknown))}; its parameters: "
                          f"{', '.join(sorted(known)) or 'none'}.")
    return cls(params_cls(**(params or {})))


def default_params() -> dict[str, dict[str, Any]]:
    return {name: asdict(params_cls()) for name, (_, params_cls) in SAMPLERS.items()}
