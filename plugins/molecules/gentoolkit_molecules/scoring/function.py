"""The scoring function: SMILES in, per-component raw and transformed scores and a total out.

``build_scoring_function(config)`` checks the whole ``[scoring]`` table up front (component
names, labels, weights, params, transforms), so a bad config fails before any molecule is made.
"""

from __future__ import annotations

import math
import multiprocessing
import weakref
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from gentoolkit.errors import UnknownNameError
from gentoolkit_molecules.scoring.aggregation import AGGREGATIONS
from gentoolkit_molecules.scoring.component import ScoringComponent, ScoringConfigError
from gentoolkit_molecules.scoring.transforms import make_transform

SCORING_KEYS = ("aggregation", "parallel", "components")
COMPONENT_KEYS = ("component", "name", "weight", "params", "transform")


@dataclass
class ScoreResult:
    """Scores of one batch, in input order; ``raw``/``transformed`` are NaN where invalid."""

    smiles: list[str]
    valid: np.ndarray                    # (N,) bool: parsed by RDKit
    total: np.ndarray                    # (N,) aggregated score, 0.0 where invalid
    raw: dict[str, np.ndarray]           # label -> (N,) component values
    transformed: dict[str, np.ndarray]   # label -> (N,) values after the transform


@dataclass(frozen=True)
class Term:
    """One configured component: its label, scorer, transform and weight."""

    label: str
    component: str
    weight: float
    scorer: Callable[[list], np.ndarray]
    transform: Callable[[np.ndarray], np.ndarray]
    expensive: bool


class ScoringFunction:
    """Scores lists of SMILES. With ``parallel > 1`` expensive components run in worker processes;
    call ``close()`` (or use ``with``) to stop them."""

    def __init__(self, terms: list[Term], aggregation: str = "geometric", parallel: int = 1):
        self.terms, self.aggregation, self.parallel = terms, aggregation, parallel
        self.weights = np.array([t.weight for t in terms], dtype=float)
        self._pool: ProcessPoolExecutor | None = None

    @property
    def labels(self) -> list[str]:
        return [t.label for t in self.terms]

    def __call__(self, smiles: list[str]) -> ScoreResult:
        smiles = list(smiles)
        mols = _parse(smiles)
        valid = np.array([m is not None for m in mols], dtype=bool)
        good = [m for m in mols if m is not None]
        values = self._score(good)
        raw, transformed = {}, {}
        for term in self.terms:
            raw[term.label] = np.full(len(smiles), np.nan)
            raw[term.label][valid] = values[term.label]
            with np.errstate(invalid="ignore", over="ignore"):
                t = np.asarray(term.transform(raw[term.label]), dtype=float)
            transformed[term.label] = np.where(np.isnan(raw[term.label]), np.nan, t)
        total = np.zeros(len(smiles))
        if good:
            stacked = np.stack([transformed[t.label][valid] for t in self.terms])
            total[valid] = AGGREGATIONS[self.aggregation](stacked, self.weights)
        return ScoreResult(smiles, valid, total, raw, transformed)

    def _score(self, mols: list) -> dict[str, np.ndarray]:
        """Raw values of every term for the valid molecules; expensive ones in the pool."""
        if not mols:
            return {t.label: np.zeros(0) for t in self.terms}
        pooled = [t for t in self.terms if t.expensive] if self.parallel > 1 else []
        futures: list[Future] = []
        if pooled:  # one task per chunk runs every expensive scorer, so each chunk is sent once
            size = math.ceil(len(mols) / self.parallel)
            scorers = [t.scorer for t in pooled]
            futures = [self._executor().submit(_run_all, scorers, mols[i:i + size])
                       for i in range(0, len(mols), size)]
        values = {t.label: _checked(t, mols, lambda: _run(t.scorer, mols))
                  for t in self.terms if t not in pooled}
        chunks = [f.result() for f in futures]
        for j, term in enumerate(pooled):
            values[term.label] = _checked(term, mols, lambda: _gather(chunks, j))
        return {t.label: values[t.label] for t in self.terms}

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn: workers must not inherit torch/CUDA state or threads from the parent
            self._pool = ProcessPoolExecutor(self.parallel, mp_context=multiprocessing.get_context("spawn"))
            weakref.finalize(self, self._pool.shutdown, cancel_futures=True)
        return self._pool

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ScoringFunction:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _run(scorer: Callable[[list], np.ndarray], mols: list) -> np.ndarray:
    return np.asarray(scorer(mols), dtype=float).reshape(-1)


def _run_all(scorers: list[Callable[[list], np.ndarray]], mols: list) -> list[np.ndarray | Exception]:
    """What a worker process runs: every pooled scorer on one chunk (an error is sent back as a value)."""
    results: list[np.ndarray | Exception] = []
    for scorer in scorers:
        try:
            results.append(_run(scorer, mols))
        except Exception as err:  # re-raised in the parent, against the right component
            results.append(err)
    return results


def _gather(chunks: list[list[np.ndarray | Exception]], j: int) -> np.ndarray:
    """The ``j``-th pooled scorer's values over all chunks, re-raising a worker's error."""
    parts = [chunk[j] for chunk in chunks]
    for part in parts:
        if isinstance(part, Exception):
            raise part
    return np.concatenate(parts)


def _checked(term: Term, mols: list, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """``compute()``'s values for ``term``, with errors and wrong lengths naming the component."""
    try:
        values = compute()
    except Exception as err:
        err.add_note(f"while scoring component {term.label!r} ({term.component})")
        raise
    if len(values) != len(mols):
        raise ValueError(f"scoring component {term.label!r} ({term.component}) returned {len(values)} "
                         f"values for {len(mols)} molecules")
    return values


def _parse(smiles: list[str]) -> list:
    """RDKit molecules, None where a SMILES does not parse (parsed once per batch, quietly)."""
    from rdkit import Chem, rdBase

    with rdBase.BlockLogs():
        mols = [Chem.MolFromSmiles(s) if isinstance(s, str) and s else None for s in smiles]
    return [m if m is not None and m.GetNumAtoms() > 0 else None for m in mols]


def build_scoring_function(config: Mapping[str, Any],
                           components: Mapping[str, ScoringComponent] | None = None) -> ScoringFunction:
    """A ScoringFunction from a ``[scoring]`` table. ``components`` are the ones to choose from
    (a task passes every plugin's, from its toolkit); by default the built-in ones."""
    _only(config, SCORING_KEYS, "[scoring]")
    aggregation = config.get("aggregation", "geometric")
    if aggregation not in AGGREGATIONS:
        raise UnknownNameError("aggregation", str(aggregation), AGGREGATIONS)
    parallel = config.get("parallel", 1)
    if not isinstance(parallel, int) or isinstance(parallel, bool) or parallel < 1:
        raise ScoringConfigError(f"[scoring] parallel must be a whole number of processes >= 1, not {parallel!r}.")
    entries = config.get("components")
    if not entries or not isinstance(entries, (list, tuple)):
        raise ScoringConfigError("[scoring] needs at least one [[scoring.components]] entry.")
    if components is None:  # no toolkit at hand: the built-in components only
        from gentoolkit.registry import Registry

        from gentoolkit_molecules.scoring.builtin import register_builtin_components

        components = Registry("scoring component")
        register_builtin_components(lambda component: components.add(component, "molecules"))
    terms: list[Term] = []
    for i, entry in enumerate(entries, 1):
        terms.append(_term(entry, i, components))
    labels = [t.label for t in terms]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ScoringConfigError(f"[[scoring.components]] labels must be unique; {', '.join(map(repr, duplicates))} "
                                 "is used twice: give each a distinct 'name'.")
    if not any(t.weight > 0 for t in terms):
        raise ScoringConfigError("[[scoring.components]] need at least one positive weight.")
    return ScoringFunction(terms, aggregation, parallel)


def _term(entry: Any, index: int, components: Mapping[str, ScoringComponent]) -> Term:
    if not isinstance(entry, Mapping) or "component" not in entry:
        raise ScoringConfigError(f"[[scoring.components]] entry {index} needs a 'component' name.")
    _only(entry, COMPONENT_KEYS, f"[[scoring.components]] entry {index}")
    name = entry["component"]
    try:
        component = components[name]
    except KeyError:
        raise UnknownNameError("scoring component", str(name), list(components)) from None
    label = entry.get("name", name)
    where = f"component {label!r} ({name})"
    weight = entry.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
        raise ScoringConfigError(f"{where}: weight must be a number >= 0, not {weight!r}.")
    params = entry.get("params", {})
    if not isinstance(params, Mapping):
        raise ScoringConfigError(f"{where}: params must be a table, not {params!r}.")
    transform = make_transform(entry.get("transform"), label)
    try:
        scorer = component.create(**params)
    except (ScoringConfigError, TypeError, ValueError) as err:
        raise ScoringConfigError(f"{where}: {err}") from err
    return Term(label, name, float(weight), scorer, transform, component.expensive)


def _only(table: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ScoringConfigError(f"{where} has unknown key {', '.join(map(repr, unknown))}; "
                                 f"known keys: {', '.join(known)}.")
