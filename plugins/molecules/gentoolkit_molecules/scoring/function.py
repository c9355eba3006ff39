"""The scoring function: SMILES in, per-component raw and transformed scores and a total out.

``build_scoring_function(config)`` checks the whole ``[scoring]`` table up front (component
names, labels, weights, params, transforms), so a bad config fails before any molecule is made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np

from gentoolkit.errors import GentoolkitError, UnknownNameError
from gentoolkit.parallel import WorkerPool, describe_error, make_pool
from gentoolkit_molecules.scoring.aggregation import AGGREGATIONS
from gentoolkit_molecules.scoring.component import ScoringComponent, ScoringConfigError
from gentoolkit_molecules.scoring.transforms import make_transform

if TYPE_CHECKING:
    from gentoolkit.runtime import Runtime

SCORING_KEYS = ("aggregation", "parallel", "components")
COMPONENT_KEYS = ("component", "name", "weight", "params", "transform")


@dataclass
class ScoreResult:
    """Scores of one batch, in input order; ``raw``/``transformed`` are NaN where invalid or failed."""

    smiles: list[str]
    valid: np.ndarray                    # (N,) bool: parsed by RDKit
    total: np.ndarray                    # (N,) aggregated score, 0.0 where invalid or failed
    raw: dict[str, np.ndarray]           # label -> (N,) component values
    transformed: dict[str, np.ndarray]   # label -> (N,) values after the transform
    reasons: list[str] = field(default_factory=list)  # (N,) why a molecule scored 0, "" where it did not
    poses: dict[str, list[str]] = field(default_factory=dict)  # label -> (N,) SDF records ("" = none)


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
    """Scores lists of SMILES. Expensive components run in a pool of workers on the runtime's
    executor (``--executor``), or in ``parallel`` local processes; a molecule they fail on (or that
    times out) scores 0 with a reason. Call ``close()`` (or use ``with``) to stop the workers."""

    def __init__(self, terms: list[Term], aggregation: str = "geometric", parallel: int = 1,
                 runtime: Runtime | None = None):
        self.terms, self.aggregation, self.parallel, self.runtime = terms, aggregation, parallel, runtime
        self.weights = np.array([t.weight for t in terms], dtype=float)
        self._pool: WorkerPool | None = None
        self.pose_files: set[Path] = set()  # the poses/<label>.sdf files this function has written to

    @property
    def labels(self) -> list[str]:
        return [t.label for t in self.terms]

    def __call__(self, smiles: list[str]) -> ScoreResult:
        smiles = list(smiles)
        mols = _parse(smiles)
        valid = np.array([m is not None for m in mols], dtype=bool)
        good = [m for m in mols if m is not None]
        values, failed, poses = self._score(good, [s for s, m in zip(smiles, mols) if m is not None])
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
            with np.errstate(invalid="ignore"):
                aggregated = AGGREGATIONS[self.aggregation](stacked, self.weights)
            total[valid] = np.where([bool(r) for r in failed], 0.0, aggregated)
        reasons, positions = iter(failed), np.flatnonzero(valid)
        result = ScoreResult(smiles, valid, total, raw, transformed,
                             [next(reasons) if ok else "invalid SMILES" for ok in valid],
                             {label: _scatter(blocks, positions, len(smiles)) for label, blocks in poses.items()})
        self._write_poses(result)
        return result

    def _score(self, mols: list, smiles: list[str]) -> tuple[dict[str, np.ndarray], list[str], dict[str, list[str]]]:
        """Raw values of every term for the valid molecules, why each failed ("" if it did not), and
        the poses of the terms that give them. Cheap terms run here on the whole batch; expensive
        ones in the worker pool."""
        if not mols:
            return {t.label: np.zeros(0) for t in self.terms}, [], {}
        values, poses = {}, {}
        pooled = self._pooled_terms()
        for t in self.terms:
            if t not in pooled:
                values[t.label] = _checked(t, mols, lambda: _run(t.scorer, mols))
                if getattr(t.scorer, "poses", None):
                    poses[t.label] = [t.scorer.poses.get(i, "") for i in range(len(mols))]
        reasons = [""] * len(mols)
        if pooled:
            pool = self._worker_pool(pooled)
            chunks = 4 * pool.size if pool.size > 1 else 1  # a few chunks per worker balance the load
            result = pool.map(smiles, default=None, chunksize=math.ceil(len(mols) / chunks))
            for i, (out, why) in enumerate(zip(result.values, result.reasons)):
                reasons[i] = why or (out[1] if out is not None else "")
            columns = np.array([out[0] if out is not None else [np.nan] * len(pooled) for out in result.values])
            values.update({t.label: columns[:, j] for j, t in enumerate(pooled)})
            blocks = [out[2] if out is not None else [""] * len(pooled) for out in result.values]
            poses.update({t.label: [b[j] for b in blocks] for j, t in enumerate(pooled) if any(b[j] for b in blocks)})
            failures = sum(bool(r) for r in reasons)
            if failures and self.runtime is not None:
                from rich.markup import escape

                first = next(r for r in reasons if r)
                self.runtime.log(f"[yellow]{failures} of {len(mols)} molecules scored 0: {escape(first)}")
        return {t.label: values[t.label] for t in self.terms}, reasons, poses

    def _write_poses(self, result: ScoreResult) -> None:
        """Append the batch's poses to ``poses/<label>.sdf`` in the run folder (rank 0 of a run only)."""
        if self.runtime is None or not self.runtime.is_main:
            return
        for label, blocks in result.poses.items():
            if any(blocks):
                path = self.runtime.out_dir / "poses" / f"{label}.sdf"
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "a", encoding="utf-8") as f:
                    f.writelines(b for b in blocks if b)
                self.pose_files.add(path)

    @property
    def pooled(self) -> list[str]:
        """Labels of the terms scored in the worker pool (``--executor``), the others run in-process."""
        return [t.label for t in self._pooled_terms()]

    def _pooled_terms(self) -> list[Term]:
        """The expensive terms; or, when a run was given an executor other than ``local`` and no
        term is expensive, all of them: the user asked for scoring to fan out."""
        expensive = [t for t in self.terms if t.expensive]
        if expensive or self.runtime is None or self.runtime.options.executor == "local":
            return expensive
        return list(self.terms)

    def _worker_pool(self, pooled: list[Term]) -> WorkerPool:
        """The pool of the expensive scorers: the runtime's executor, or ``parallel`` local processes
        when the runtime runs work in-process (``--executor local``, the default)."""
        if self._pool is None:
            factory = partial(_PooledScorers, [t.scorer for t in pooled], [t.label for t in pooled])
            executor = self.runtime.options.executor if self.runtime else "local"
            workers = self.runtime.options.workers if self.runtime else None
            if executor == "local" and self.parallel > 1:
                executor = "processes"
            workers = workers or (self.parallel if self.parallel > 1 else None)
            if self.runtime is not None:
                self._pool = self.runtime.pool(factory, executor=executor, workers=workers, batched=True)
                where = {"ray": "Ray workers", "processes": "local worker processes"}.get(executor, "workers")
                self.runtime.log(f"scoring {', '.join(t.label for t in pooled)} on {self._pool.size} {where}")
            else:
                self._pool = make_pool(factory, executor=executor, workers=workers, batched=True)
        return self._pool

    def close(self) -> None:
        """Stop the workers, if any were started."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> ScoringFunction:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _PooledScorers:
    """What a scoring worker holds: the expensive scorers, sent once (their heavy state, a receptor
    or a model, loads at the first call and stays). Scores a chunk of SMILES and never raises: a
    scorer that fails on the chunk is retried one molecule at a time to find which ones fail, and
    one that returns NaN for a molecule may say why in its ``reasons`` (index -> text)."""

    def __init__(self, scorers: list[Callable[[list], np.ndarray]], labels: list[str]):
        self.scorers, self.labels = scorers, labels

    def __call__(self, smiles: list[str]) -> list[tuple[list[float], str, list[str]]]:
        mols = _parse(smiles)
        columns, reasons, poses = [], [[] for _ in smiles], []
        for scorer, label in zip(self.scorers, self.labels):
            column, blocks = np.full(len(mols), np.nan), [""] * len(mols)
            try:
                values = _run(scorer, mols)
                if len(values) == len(mols):
                    column = values
                    blocks = [getattr(scorer, "poses", {}).get(i, "") for i in range(len(mols))]
                    for i, why in getattr(scorer, "reasons", {}).items():  # NaN, with its scorer's reason
                        reasons[i].append(f"{label}: {why}")
                else:  # a broken scorer, not a bad molecule: no point in trying them one by one
                    for why in reasons:
                        why.append(f"{label}: returned {len(values)} values for {len(mols)} molecules")
            except GentoolkitError as err:  # the scorer's own contract or setup: the same for every molecule
                for why in reasons:
                    why.append(f"{label}: {' '.join(str(err).split())}")
            except Exception:
                for i, mol in enumerate(mols):
                    try:
                        column[i] = _run(scorer, [mol])[0]
                    except Exception as err:
                        reasons[i].append(f"{label}: {describe_error(err)}")
            columns.append(column)
            poses.append(blocks)
        return [([float(c[i]) for c in columns], "; ".join(reasons[i]), [b[i] for b in poses])
                for i in range(len(smiles))]


def _scatter(blocks: list[str], positions: np.ndarray, n: int) -> list[str]:
    """``blocks`` of the valid molecules placed at their ``positions`` in a batch of ``n``."""
    out = [""] * n
    for i, block in zip(positions, blocks):
        out[i] = block
    return out


def _run(scorer: Callable[[list], np.ndarray], mols: list) -> np.ndarray:
    return np.asarray(scorer(mols), dtype=float).reshape(-1)


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


def build_scoring_function(config: Mapping[str, Any], components: Mapping[str, ScoringComponent] | None = None,
                           runtime: Runtime | None = None) -> ScoringFunction:
    """A ScoringFunction from a ``[scoring]`` table. ``components`` are the ones to choose from
    (a task passes every plugin's, from its toolkit); by default the built-in ones. With a
    ``runtime``, expensive components run on its executor (``--executor``)."""
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
    return ScoringFunction(terms, aggregation, parallel, runtime)


def _term(entry: Any, index: int, components: Mapping[str, ScoringComponent]) -> Term:
    if not isinstance(entry, Mapping) or "component" not in entry:
        raise ScoringConfigError(f"[[scoring.components]] entry {index} needs a 'component' name.")
    _only(entry, COMPONENT_KEYS, f"[[scoring.components]] entry {index}")
    name = entry["component"]
    try:
        component = components[name]
    except UnknownNameError:
        raise  # a registry's: it also names plugins that failed to register theirs
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
