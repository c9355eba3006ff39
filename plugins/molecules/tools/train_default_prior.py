"""Train the shipped molecules prior on MOSES train (CPU, one thread) and write its model card.

    python plugins/molecules/tools/train_default_prior.py measure     # molecules/s of the chosen size
    python plugins/molecules/tools/train_default_prior.py train       # train within --minutes, then `card`
    python plugins/molecules/tools/train_default_prior.py card        # sample 10k, score them, write the card
    python plugins/molecules/tools/train_default_prior.py sample      # write the embedded default dataset

The training subset is sized from a throughput measurement so the run fits its time budget;
a time limit in the trainer is the safety net. Checkpoints go to runs/default_prior (resumable).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from datetime import date
from pathlib import Path

import torch

from gentoolkit.models import CARD_KEY
from gentoolkit.runtime import Runtime, RuntimeOptions
from gentoolkit_molecules.data import moses_smiles, standardise, standardise_all
from gentoolkit_molecules.prior import Prior, sequence_log_likelihood
from gentoolkit_molecules.tokenizer import Vocabulary
from gentoolkit_molecules.training import Encoded, LengthBatches, train_prior

PACKAGE_DATA = Path(__file__).resolve().parents[1] / "gentoolkit_molecules" / "data"
SHIPPED = PACKAGE_DATA / "prior" / "prior"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["measure", "train", "anneal", "card", "sample"])
    parser.add_argument("--kind", default="lstm")
    parser.add_argument("--embedding", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=42.0, help="training time budget")
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--samples", type=int, default=10_000, help="molecules sampled for the card")
    parser.add_argument("--out", type=Path, default=Path("runs/default_prior"))
    parser.add_argument("--pool", choices=["unseen", "all"], default="unseen", help="anneal: which molecules")
    parser.add_argument("--seed", type=int, default=1, help="anneal: shuffling and validation split")
    parser.add_argument("--start", type=Path, default=SHIPPED,
                        help="anneal: the prior to continue (a candidate of an earlier pass; default the shipped one)")
    return parser.parse_args()


def measure(prior: Prior, smiles: list[str], runtime: Runtime, batch_size: int, seconds: float = 60.0) -> float:
    """Training molecules per second of a throwaway copy of ``prior`` on ``smiles``."""
    trial = prior.copy()
    optimizer = torch.optim.Adam(trial.network.parameters())
    batches = LengthBatches(Encoded([trial.vocabulary.encode(s) for s in smiles]), batch_size,
                            trial.vocabulary, seed=0)
    done, started = 0, time.monotonic()
    for batch in batches:
        with runtime.autocast():
            nll = -sequence_log_likelihood(trial.network, batch, trial.vocabulary).mean()
        optimizer.zero_grad()
        nll.backward()
        optimizer.step()
        done += len(batch)
        if time.monotonic() - started > seconds:
            break
    return done / (time.monotonic() - started)


def train(args: argparse.Namespace) -> None:
    runtime = Runtime(RuntimeOptions(device="cpu", precision=args.precision, seed=0, threads=1, out=args.out,
                                     progress=False), task="default_prior").start()
    started = time.monotonic()
    moses = moses_smiles("train")  # canonical RDKit SMILES already; standardising all takes minutes
    runtime.log(f"MOSES train: {len(moses):,} molecules (read in {time.monotonic() - started:.0f} s)")
    vocabulary = Vocabulary.from_smiles(moses)
    prior = Prior.create(vocabulary, args.kind, embedding=args.embedding, hidden=args.hidden, layers=args.layers)
    rate = measure(prior, moses[:50_000], runtime, args.batch_size, seconds=45.0)
    budget = args.minutes * 60
    n = min(len(moses), int(0.92 * rate * budget / args.epochs))
    runtime.log(f"{prior.num_parameters():,} parameters, {rate:.0f} molecules/s: training {args.epochs} epoch(s) "
                f"on {n:,} molecules within {args.minutes:.0f} min")
    subset = random.Random(0).sample(moses, n)
    history = train_prior(prior, subset, runtime, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          valid_fraction=0.01, time_limit=budget)
    card = {"data": f"MOSES train (molsets 0.3.1): {n:,} of {len(moses):,} molecules, 1% held out",
            "subset_size": n, "kind": args.kind, "config": prior.config, "vocabulary_size": len(vocabulary),
            "parameters": prior.num_parameters(),
            "epochs": len(history), "molecules_seen": sum(r["molecules"] for r in history),
            "batch_size": args.batch_size, "lr": args.lr, "precision": args.precision,
            "train_seconds": round(history[-1]["seconds"]), "threads": 1, "history": history,
            "trained_on": date.today().isoformat()}
    prior.save(SHIPPED, card)
    runtime.log(f"Saved {SHIPPED}.json; now writing the card.")
    write_card(args.samples, set(moses))


def anneal(args: argparse.Namespace) -> None:
    """Continue the shipped prior (or ``--start``) at a lower learning rate, decayed over ``--minutes``.

    ``--pool unseen`` draws only MOSES train molecules outside the phase-1 subset; ``--pool all``
    the whole of MOSES train (a further epoch). Each pass is appended to the card.
    """
    runtime = Runtime(RuntimeOptions(device="cpu", precision=args.precision, seed=args.seed, threads=1,
                                     out=args.out / "anneal", progress=False), task="default_prior").start()
    prior = Prior.load(args.start)
    card = prior.card
    moses = moses_smiles("train")
    if args.pool == "unseen":
        seen = set(random.Random(0).sample(moses, card["subset_size"]))
        pool = [s for s in moses if s not in seen]
    else:
        pool = list(moses)
    runtime.log(f"Annealing on up to {len(pool):,} molecules ({args.pool}) at lr {args.lr} within {args.minutes:.0f} min")
    history = train_prior(prior, pool, runtime, epochs=1, batch_size=card["batch_size"], lr=args.lr,
                          valid_fraction=0.01, time_limit=args.minutes * 60)
    passes = card.get("anneal", [])
    passes = [passes] if isinstance(passes, dict) else passes
    card["anneal"] = [*passes, {"molecules": history[-1]["molecules"], "lr": args.lr, "pool": args.pool,
                                "seconds": round(history[-1]["seconds"])}]
    card["history"] += [{**row, "epoch": len(card["history"]) + 1} for row in history]
    card["molecules_seen"] += sum(r["molecules"] for r in history)
    card["train_seconds"] += round(history[-1]["seconds"])
    card["epochs"] = len(card["history"])
    candidate = args.out / "anneal" / "candidate"
    prior.save(candidate, card)
    runtime.log(f"Saved {candidate}.json; scoring it.")
    write_card(args.samples, set(moses), candidate)


def write_card(n: int, train: set[str] | None = None, path: Path = SHIPPED) -> None:
    """Sample ``n`` molecules from the prior at ``path``, score them, put the numbers in its JSON and card.md."""
    import fcd

    torch.set_num_threads(1)
    prior = Prior.load(path)
    prior.network.eval()
    generator = torch.Generator().manual_seed(0)
    started = time.monotonic()
    with torch.no_grad():
        smiles = [s for _ in range(0, n, 500) for s in prior.sample_sequences(500, generator=generator).smiles][:n]
    sample_seconds = time.monotonic() - started
    canonical = [standardise(s) for s in smiles]
    valid = [s for s in canonical if s is not None]
    unique = set(valid)
    train = train if train is not None else set(moses_smiles("train"))
    test = moses_smiles("test")
    reference = random.Random(0).sample(test, min(10_000, len(test)))
    metrics = {"samples": n, "validity": len(valid) / n, "unique@10k": len(unique) / max(len(valid), 1),
               "novelty": len(unique - train) / max(len(unique), 1),
               "fcd_test": float(fcd.get_fcd(sorted(unique), reference, device="cpu")),
               "fcd_reference": f"{len(reference):,} random molecules of MOSES test",
               "sampling_molecules_per_s": n / sample_seconds}
    json_path = path.with_name(path.name + ".json")
    document = json.loads(json_path.read_text())
    document["metadata"]["card"]["metrics"] = metrics
    shipped = json.loads(SHIPPED.with_name(SHIPPED.name + ".json").read_text())["metadata"]
    document["metadata"].setdefault(CARD_KEY, shipped[CARD_KEY])  # so Toolkit.load_model knows it as default-prior
    json_path.write_text(json.dumps(document, indent=1))
    (path.parent / "card.md").write_text(render_card(document["metadata"]["card"]))
    print(json.dumps(metrics, indent=1))


def render_card(card: dict) -> str:
    m, c = card["metrics"], card["config"]
    size = f"{c['layers']}-layer {card['kind'].upper()}, hidden {c.get('hidden', c['embedding'])}, embedding {c['embedding']}"
    passes = card.get("anneal", [])
    passes = [passes] if isinstance(passes, dict) else passes
    annealed = "".join(f"\n- **Annealing pass {i}**: {p['molecules']:,} MOSES train molecules "
                       f"({'all of train' if p.get('pool') == 'all' else 'outside the phase-1 subset'}), lr {p['lr']} "
                       f"with cosine decay, {p['seconds'] / 60:.1f} min (included above)." for i, p in enumerate(passes, 1))
    rows = "\n".join(f"| {r['epoch']} | {r['step']} | {r['molecules']:,} | {r['train_nll']:.2f} | {r['valid_nll']:.2f} |"
                     for r in card["history"])
    return f"""# gentoolkit-molecules default prior

A SMILES language model (REINVENT / MOSES CharRNN style) that `Prior.load()` returns and the RL task
starts from. Trained by `plugins/molecules/tools/train_default_prior.py train`{" (then `anneal`)" if "anneal" in card else ""} on one CPU thread.

- **Data**: {card['data']}; MOSES's canonical RDKit SMILES, atom-level tokens,
  vocabulary of {card['vocabulary_size']} tokens.
- **Model**: {size}; {card['parameters']:,} parameters.
- **Training**: {card['epochs']} epoch(s), {card['molecules_seen']:,} molecules seen, batch {card['batch_size']},
  Adam lr {card['lr']} with cosine decay to a tenth, gradient clipping at 1, {card['precision']} autocast,
  {card['train_seconds'] / 60:.1f} min wall clock on {card['threads']} thread ({card['trained_on']}).{annealed}

| epoch | step | molecules | train NLL | valid NLL |
|---|---|---|---|---|
{rows}

## Samples ({m['samples']:,} at temperature 1, seed 0)

| metric | value | MOSES CharRNN (paper) |
|---|---|---|
| validity | {m['validity']:.3f} | 0.975 |
| unique@10k | {m['unique@10k']:.4f} | 0.999 |
| novelty vs MOSES train | {m['novelty']:.3f} | 0.842 |
| FCD vs MOSES test | {m['fcd_test']:.3f} | 0.073 |

FCD is computed against {m['fcd_reference']} with the `fcd` package (ChemNet), on the unique
valid samples; MOSES's own figure uses the whole test set, so compare it only roughly. Sampling
ran at {m['sampling_molecules_per_s']:.0f} molecules/s on one CPU thread.

Limits: trained briefly on one CPU core, so its NLL is well above MOSES CharRNN's; it knows only
MOSES's chemistry (neutral drug-like molecules, C N O S F Cl Br, no stereo, no charges), so
fine-tune it (`train_prior`) before steering it towards other chemistry.
"""


def write_sample(n: int = 30_000) -> None:
    """The embedded default dataset: ``n`` random MOSES train molecules, standardised."""
    sample = standardise_all(enumerate(random.Random(0).sample(moses_smiles("train"), n), start=1), "MOSES train")
    with gzip.open(PACKAGE_DATA / "moses_train_sample.smi.gz", "wt", compresslevel=9) as out:
        out.write("\n".join(sample.smiles) + "\n")


def main() -> None:
    args = arguments()
    torch.set_num_threads(1)
    if args.step == "train":
        train(args)
    elif args.step == "anneal":
        anneal(args)
    elif args.step == "card":
        write_card(args.samples)
    elif args.step == "sample":
        write_sample()
    else:
        runtime = Runtime(RuntimeOptions(device="cpu", precision=args.precision, threads=1, progress=False)).start()
        smiles = random.Random(0).sample(moses_smiles("train"), 20_000)
        prior = Prior.create(Vocabulary.from_smiles(smiles), args.kind, embedding=args.embedding,
                             hidden=args.hidden, layers=args.layers)
        print(f"{prior.num_parameters():,} parameters: {measure(prior, smiles, runtime, args.batch_size):.0f} molecules/s")


if __name__ == "__main__":
    sys.exit(main())
