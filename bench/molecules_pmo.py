"""PMO benchmark (Gao et al. 2022) through the public route: top-10 AUC within 10,000 oracle calls.

    python bench/molecules_pmo.py                       # 5 oracles x 3 seeds x every config, 10,000 calls
    python bench/molecules_pmo.py --seeds 1 --jobs 2    # one seed, two runs at a time
    python bench/molecules_pmo.py --quick               # 1 seed, 1,000 calls
    python bench/molecules_pmo.py --cached-only         # the table from finished runs only, running none

The oracles come in as a third-party scoring component (``pmo_oracles.PMOOracles``, through the
molecules plugin's ``register_scoring_components`` hook) and every run is ``Toolkit.run("molecules")``
with ``--set``-style overrides, as a user would run ``gentoolkit run molecules --set ...``; the
baseline samples the prior (``mode=sample``) and scores its new valid molecules in order. Each
finished run is cached under runs/bench/molecules_pmo/<code hash>/, keyed by oracle, config
(its overrides), seed and budget; the code hash covers the molecules plugin (weights included,
``defaults.py`` left out since the effective config is in the key), the runtime and the oracles.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from pmo_oracles import ORACLES  # noqa: E402
from report import ResultCache, provenance, write_section  # noqa: E402

REINVENT_PUBLISHED = {"qed": 0.941, "celecoxib_rediscovery": 0.713, "osimertinib_mpo": 0.837,
                      "isomers_c7h8n2o2": 0.852, "median1": 0.356}  # PMO Table 2, REINVENT (SMILES)
PATIENCES = (5, 10, 15, 20, 30)  # replayed on each "patience 30" run's trace
PMO_REINVENT = ["rl.sigma=500", "rl.learning_rate=5e-4", "rl.replay_memory=100", "rl.replay_sample=24",
                "diversity_filter.type=none", "rl.patience=5", "rl.top_k=100"]  # PMO's hparams and early stop
# What each column runs, on top of the budget (and `rl.max_steps` large enough never to stop a run first).
CONFIGS = {
    "defaults": [],
    # The defaults stopping only after 30 steps without progress: each run's trace also says what any
    # shorter patience would have scored (the same seed follows the same path until it stops).
    # Plain REINVENT (no Augmented Memory, as the defaults were when the patience was tuned on these replays).
    "patience 30": ["rl.patience=30", "rl.augmentation_rounds=0"],
    "augmented memory": [*PMO_REINVENT, "rl.augmentation_rounds=2"],
    # Augmented Memory as a candidate default: the defaults plus two extra updates per oracle batch.
    "defaults + augmented memory": ["rl.augmentation_rounds=2"],
    "REINVENT (PMO hparams)": PMO_REINVENT,
    "prior sampling": None,
}


def scoring(oracle: str) -> list[str]:
    """The overrides that make ``oracle`` the objective: one pmo_bench component, no transform."""
    return ["scoring.aggregation=arithmetic", f'scoring.components=[{{component = "pmo_bench", params = {{name = "{oracle}"}}}}]']


def read_csv(path: Path, *columns: str) -> list[list[str]]:
    """The named columns of a run's CSV, each as a list of strings in row order."""
    import csv

    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [[r[column] for r in rows] for column in columns]


_IMPORTED_CODE: str | None = None  # code_hash() when this worker first imported the plugin: the code it runs


def run_once(config: str, oracle: str, seed: int, budget: int, prior: str, cache_folder: str, key: str,
             code: str) -> dict:
    """One run, on a fresh toolkit: its metrics, wall and CPU seconds, also kept in the cache under
    ``code``, the hash the bench started with; a worker whose imported code differs refuses to run."""
    global _IMPORTED_CODE
    _IMPORTED_CODE = _IMPORTED_CODE or code_hash()
    if _IMPORTED_CODE != code:  # edited since the bench started: the result would be keyed by the wrong code
        raise RuntimeError("the molecules plugin, runtime or oracles changed on disk after the bench started; "
                           "nothing was cached: run the bench again")
    import torch

    from gentoolkit.api import Toolkit
    from gentoolkit.runtime import RuntimeOptions
    from pmo_oracles import PMOOracle, PMOOracles

    torch.set_num_threads(1)
    toolkit = Toolkit(plugins=[PMOOracles()])
    start, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as out:
        options = RuntimeOptions(device="cpu", seed=seed, out=Path(out), progress=False, threads=1)
        common = [f"prior={prior}"] if prior else []
        if CONFIGS[config] is None:  # sample the prior, then score its new valid molecules in order
            from rdkit import Chem

            smiles, sampling_seconds = prior_sample(toolkit, options, common, budget, seed, prior, Path(out),
                                                   Path(cache_folder))
            scores = PMOOracle(oracle)([Chem.MolFromSmiles(s) for s in smiles]).tolist()
            start -= sampling_seconds  # a sample made for another oracle: charge its time here too
        else:
            overrides = [*common, *scoring(oracle), f"rl.max_oracle_calls={budget}", f"rl.max_steps={budget}",
                         "rl.checkpoint_every=100000", *CONFIGS[config]]
            toolkit.run("molecules", None, overrides, options)
            smiles, score_column, step_column = read_csv(Path(out) / "molecules.csv", "smiles", "score", "step")
            scores, steps = [float(x) for x in score_column], [int(x) for x in step_column]
    auc = toolkit.evaluate("pmo-auc", smiles, scores=scores, budget=budget, k=10, freq=100)["pmo_auc_top_10"]
    ranked = np.sort(scores)[::-1]
    result = {"auc_top10": auc, "top10": float(ranked[:10].mean()), "top1": float(ranked[0]), "calls": len(smiles),
            "scaffolds_top100": scaffolds(smiles, scores, 100), "seconds": time.perf_counter() - start,
            "cpu_seconds": time.process_time() - cpu}
    if CONFIGS[config] is not None:  # the scored molecules' steps and scores in call order, for replays
        result["trace"] = {"step": steps, "score": [round(x, 5) for x in scores]}
        if config == "patience 30":
            result["if_patience"] = if_patience(toolkit, steps, smiles, scores, budget, int(config.split()[1]))
    ResultCache(Path(cache_folder).parent, code).put(key, result)
    return result


def prior_sample(toolkit, options, common: list[str], budget: int, seed: int, prior: str, out: Path,
                 folder: Path) -> tuple[list[str], float]:
    """The first ``budget`` distinct valid molecules the prior samples with this seed, and the seconds
    that took; kept in the cache folder, since every oracle scores the same sample."""
    path = folder / f"sample-{hashlib.sha256(json.dumps([seed, budget, prior]).encode()).hexdigest()[:12]}.json"
    if path.exists():
        kept = json.loads(path.read_text())
        return kept["smiles"], kept["seconds"]
    start = time.perf_counter()
    overrides = [*common, "mode=sample", f"sample.num_molecules={int(budget * 1.15) + 64}", 'sample.reference=""']
    toolkit.run("molecules", None, overrides, options)
    canonical, = read_csv(out / "molecules.csv", "canonical")
    smiles = list(dict.fromkeys(c for c in canonical if c))[:budget]
    path.write_text(json.dumps({"smiles": smiles, "seconds": time.perf_counter() - start}))
    return smiles, 0.0


def stop_step(steps: list[int], scores: list[float], patience: int, top_k: int = 100) -> int:
    """The step at which ``rl.patience=patience`` would have stopped this trace (its last step if never):
    the RL loop's rule, replayed. After each step the top-k mean of everything scored so far (missing
    ones count 0) either beats the best so far or adds a stale step, steps that scored nothing new
    included; a run stops once ``patience`` steps are stale and something has scored above 0."""
    by_step: dict[int, list[float]] = {}
    for step, score in zip(steps, scores):
        by_step.setdefault(step, []).append(score)
    seen: list[float] = []
    best, stale = -np.inf, 0
    for step in range(1, max(steps) + 1):
        seen = sorted(seen + by_step.get(step, []), reverse=True)[:top_k]
        mean = sum(seen) / top_k
        best, stale = (mean, 0) if mean > best + 1e-9 else (best, stale + 1)
        if stale >= patience and best > 0:
            return step
    return max(steps)


def if_patience(toolkit, steps: list[int], smiles: list[str], scores: list[float], budget: int,
                ran_with: int) -> dict[str, dict]:
    """Top-10 AUC, calls and top-100 scaffolds had the run stopped with each patience up to ``ran_with``."""
    if stop_step(steps, scores, ran_with) != max(steps) and len(smiles) < budget:
        raise RuntimeError("the replayed stopping rule disagrees with the run's own stop: update stop_step")
    out = {}
    for patience in (p for p in PATIENCES if p <= ran_with):
        stop = stop_step(steps, scores, patience)
        n = sum(step <= stop for step in steps)
        out[str(patience)] = {
            "auc_top10": toolkit.evaluate("pmo-auc", smiles[:n], scores=scores[:n], budget=budget, k=10,
                                          freq=100)["pmo_auc_top_10"],
            "calls": n, "scaffolds_top100": scaffolds(smiles[:n], scores[:n], 100)}
    return out


def scaffolds(smiles: list[str], scores: list[float], n: int) -> int:
    """Distinct Murcko scaffolds among the ``n`` best molecules (acyclic ones share the empty scaffold)."""
    from rdkit import Chem
    from rdkit.Chem.Scaffolds import MurckoScaffold

    best = [smiles[i] for i in np.argsort(scores)[::-1][:n]]
    return len({Chem.MolToSmiles(MurckoScaffold.GetScaffoldForMol(Chem.MolFromSmiles(s))) for s in best})


def code_hash() -> str:
    """sha256 of what produces the numbers: the molecules plugin (less defaults.py, whose values are in each
    key, and the example configs in configs/, which no bench run reads), the runtime, the oracles."""
    spec = importlib.util.find_spec("gentoolkit_molecules")
    root = Path(spec.submodule_search_locations[0])
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and p.name != "defaults.py"
             and p.suffix in (".py", ".toml", ".safetensors", ".json")
             and "__pycache__" not in p.parts and p.parent != root / "configs"]
    files += [Path(importlib.util.find_spec("gentoolkit.runtime").origin), Path(__file__).parent / "pmo_oracles.py"]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def key(toolkit, config: str, oracle: str, seed: int, budget: int, prior: str) -> str:
    """Oracle, budget, seed and a hash of the effective config (defaults included): one entry per distinct run.
    Sampling the prior reads only the prior and the sampling settings, so only those key it: a change to the
    RL defaults leaves its entries valid."""
    overrides = [f"prior={prior}"] if prior else []
    overrides += ["mode=sample"] if CONFIGS[config] is None else [*scoring(oracle), *CONFIGS[config]]
    effective = toolkit.config("molecules", None, overrides)
    if CONFIGS[config] is None:
        effective = {section: effective[section] for section in ("mode", "prior", "strict", "sample")}
    what = json.dumps([effective, oracle, seed, budget], sort_keys=True, default=str)
    return f"{oracle}-b{budget}-s{seed}-{hashlib.sha256(what.encode()).hexdigest()[:12]}"  # same config, same entry


def cell(runs: list[dict], name: str, seeds: int, digits: int = 3) -> str:
    values = np.array([r[name] for r in runs])
    text = f"{values.mean():.{digits}f} ± {values.std():.{digits}f}" if len(values) > 1 else f"{values.mean():.{digits}f}"
    return text if len(values) == seeds else f"{text} (n={len(values)})"


def table(entries: dict, seeds: int, budget: int, shared: list[str] = ()) -> str:
    results = {k: [e["result"] for e in v] for k, v in entries.items()}
    names = [c for c in CONFIGS if any(config == c for _, config in entries)]  # the configs this run covers
    lines = [f"Top-10 AUC within {budget:,} oracle calls (PMO's metric), mean ± std over {seeds} seed(s), then the "
             "distinct Murcko scaffolds among each run's best 100 and the mean wall / CPU seconds per run. "
             "Configs: *defaults* changes nothing but the budget; *REINVENT (PMO hparams)* is "
             f"`{' '.join(PMO_REINVENT)}`; *augmented memory* adds `rl.augmentation_rounds=2` to it, and "
             "*defaults + augmented memory* to the defaults. "
             "REINVENT as published in PMO (Gao et al. 2022, Table 2) at 10,000 calls."
             + (f" {' and '.join(f'*{c}*' for c in shared)} have the same effective config, so one run fills them all."
                if shared else ""), "",
             "| oracle | REINVENT (PMO paper) | " + " | ".join(names) + " | measured |",
             "|---|---|" + "---|" * len(names) + "---|"]
    for oracle in ORACLES:
        row = [results.get((oracle, c), []) for c in names]
        if not any(row):
            continue
        cells = [cell(r, "auc_top10", seeds) if r else "" for r in row]
        lines.append(f"| {oracle} | {REINVENT_PUBLISHED[oracle]:.3f} | " + " | ".join(cells) + " | "
                     + provenance([e for c in names for e in entries.get((oracle, c), [])]) + " |")
    lines += ["", "| oracle | " + " | ".join(f"{c}: scaffolds / wall s / CPU s" for c in names) + " |",
              "|---|" + "---|" * len(names)]
    for oracle in ORACLES:
        row = [results.get((oracle, c), []) for c in names]
        if any(row):
            lines.append(f"| {oracle} | " + " | ".join(
                f"{np.mean([x['scaffolds_top100'] for x in r]):.0f} / {np.mean([x['seconds'] for x in r]):.0f} / "
                f"{np.mean([x['cpu_seconds'] for x in r]):.0f}" if r else "" for r in row) + " |")
    done = [o for o in ORACLES if all(results.get((o, c)) for c in names)]
    if done and budget == 10_000:
        lines += ["", f"Over the {len(done)} oracle(s) with every config: "
                  + "; ".join(f"{c} mean {np.mean([np.mean([r['auc_top10'] for r in results[(o, c)]]) for o in done]):.3f}, "
                              f"at or above REINVENT's published value on "
                              f"{sum(np.mean([r['auc_top10'] for r in results[(o, c)]]) >= REINVENT_PUBLISHED[o] for o in done)}"
                              for c in names)
                  + f"; REINVENT (PMO paper) mean {np.mean([REINVENT_PUBLISHED[o] for o in done]):.3f}."]
    return "\n".join(lines + patience_table(results))


def patience_table(results: dict) -> list[str]:
    """What each patience would have scored: the *patience 30* runs' traces, replayed."""
    runs = {o: [r["if_patience"] for r in results.get((o, "patience 30"), []) if "if_patience" in r] for o in ORACLES}
    if not any(runs.values()):
        return []
    lines = ["", "Early stopping, replayed on each *patience 30* run (same seed, same path until it stops): top-10 AUC "
             "/ oracle calls used / scaffolds in the top 100 had `rl.patience` been each value, mean over seeds.", "",
             "| oracle | seeds | " + " | ".join(f"patience {p}" for p in PATIENCES) + " |", "|---|---|" + "---|" * len(PATIENCES)]
    for oracle, replays in runs.items():
        if replays:
            lines.append(f"| {oracle} | {len(replays)} | " + " | ".join(
                f"{np.mean([r[str(p)]['auc_top10'] for r in replays]):.3f} / {np.mean([r[str(p)]['calls'] for r in replays]):,.0f}"
                f" / {np.mean([r[str(p)]['scaffolds_top100'] for r in replays]):.0f}" for p in PATIENCES) + " |")
    done = [o for o, r in runs.items() if r]
    lines.append(f"| mean over {len(done)} | | " + " | ".join(
        f"{np.mean([np.mean([r[str(p)]['auc_top10'] for r in runs[o]]) for o in done]):.3f}" for p in PATIENCES) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 seed and 1,000 oracle calls")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--from-seed", type=int, default=0,
                        help="run seeds from this one on (e.g. seed 2 alone beside a run of seeds 0-1)")
    parser.add_argument("--budget", type=int, default=None)
    parser.add_argument("--oracles", nargs="+", default=list(ORACLES), choices=ORACLES)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--prior", default="", help="a saved prior (default: the shipped one)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time, one CPU thread each")
    parser.add_argument("--cached-only", action="store_true",
                        help="run nothing: write the table from the runs the cache holds (cells say n=)")
    args = parser.parse_args()
    seeds = args.seeds or (1 if args.quick else 3)
    budget = args.budget or (1_000 if args.quick else 10_000)
    cache = ResultCache(Path("runs/bench/molecules_pmo"), code_hash())
    from gentoolkit.api import Toolkit

    toolkit = Toolkit()
    name = "molecules_pmo" + ("_quick" if args.quick else "" if budget == 10_000 else f"_{budget}_calls")
    if set(args.oracles) != set(ORACLES):  # a partial run gets its own section, never the full table's
        name += "_" + "_".join(args.oracles)
    command = "python " + " ".join(["bench/molecules_pmo.py", *sys.argv[1:]])
    # every oracle and config once before any seed twice: partial results cover them all
    todo = [(c, o, s) for s in range(args.from_seed, args.from_seed + seeds) for o in args.oracles for c in args.configs]
    todo.sort(key=lambda run: (run[2], "augmented memory" not in run[0]))  # the slowest first, for two or more jobs
    entries: dict = {}
    cells: dict = {}  # cache key -> the (config, oracle, seed) cells it fills: equal effective configs run once
    for c, o, s in todo:
        cells.setdefault(key(toolkit, c, o, s, budget, args.prior), []).append((c, o, s))
    shared = sorted({c for filled in cells.values() if len(filled) > 1 for c, _, _ in filled})
    runs: dict = {}
    for k, filled in cells.items():
        if (entry := cache.get(k)) is None and not args.cached_only:
            runs[k] = filled
        for c, o, _ in filled if entry is not None else ():
            entries.setdefault((o, c), []).append(entry)
    if shared:
        print(f"Same effective config, run once: {', '.join(shared)}", flush=True)
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(run_once, *cells[0], budget, args.prior, str(cache.folder), k, cache.code): k
                   for k, cells in runs.items()}
        for future in as_completed(futures):  # each worker cached its own run: a failure here loses nothing
            k = futures[future]
            c, o, s = runs[k][0]
            try:
                result = future.result()
            except Exception as err:  # one broken run must not hide the others' numbers
                print(f"{o} {c} seed {s} FAILED: {type(err).__name__}: {err}", flush=True)
                continue
            for cell_config, _, _ in runs[k]:
                entries.setdefault((o, cell_config), []).append(cache.get(k) | {"cached": False})
            print(f"{o:24s} {c:24s} seed {s}: AUC top-10 {result['auc_top10']:.3f}, top-1 {result['top1']:.3f}, "
                  f"{result['calls']} calls, {result['scaffolds_top100']} scaffolds in the top 100, "
                  f"{result['seconds']:.0f} s ({result['cpu_seconds']:.0f} s CPU)", flush=True)
            write_section(name, command, table(entries, seeds, budget, shared))
    write_section(name, command, table(entries, seeds, budget, shared))


if __name__ == "__main__":
    main()
