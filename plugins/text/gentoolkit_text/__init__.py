"""gentoolkit's text plugin: GPT-2-style causal LMs on the Hugging Face stack.

Only hook implementations live here; torch and transformers load inside the registered
callables, so importing this package (and ``gentoolkit --help``) stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

from gentoolkit import Dataset, Evaluator, GentoolkitError, Model, Task, hookimpl

DOMAIN = "text"


def _load_text_files(path: str, suffixes: Sequence[str] = (".txt", ".md", ".rst", ".text")) -> list[str]:
    from gentoolkit_text.data import read_text_files

    return read_text_files(path, suffixes)


def _load_jsonl(path: str, field: str = "text") -> list[str]:
    from gentoolkit_text.data import read_jsonl

    return read_jsonl(path, field)


def _load_pydoc_topics() -> list[str]:
    from gentoolkit_text.data import pydoc_topics

    return pydoc_topics()


def _create_gpt2(**params: Any):
    from gentoolkit_text.model import gpt2

    return gpt2(**params)


def _load_lm(path: str, device: str = "cpu", lr: float = 5e-5):
    """The causal LM saved in the folder ``path``; ``lr``: AdamW's learning rate when the core
    loop fine-tunes it (gentoolkit.training.fit on strings)."""
    from gentoolkit_text.lm import CausalLM

    model = CausalLM.load(path, device=device)
    model.lr = lr
    return model


def _save_lm(model: Any, path: str, card: Any) -> Path:
    from gentoolkit.models import write_card

    folder = model.save(path)
    write_card(folder, card)
    return folder


def _perplexity(samples: Sequence[str], model: Any, tokenizer: Any = None, block_size: int = 128,
                batch_size: int = 16) -> dict[str, float]:
    """Perplexity of ``model`` (an object or a saved folder) on texts ``samples``."""
    from gentoolkit_text.data import token_blocks, token_stream
    from gentoolkit_text.evaluate import perplexity
    from gentoolkit_text.model import context_length, load_local
    from gentoolkit_text.tokenizer import load_tokenizer

    if tokenizer is None and not isinstance(model, (str, Path)):
        raise GentoolkitError("perplexity: pass tokenizer= with a model object (a saved folder brings its own).")
    if tokenizer is None or isinstance(tokenizer, (str, Path)):
        tokenizer = load_tokenizer(tokenizer or model)
    if isinstance(model, (str, Path)):
        model = load_local(model)
    blocks = token_blocks(token_stream(samples, tokenizer), min(block_size, context_length(model)))
    return perplexity(model, blocks, batch_size)


def _distinct(samples: Sequence[str], orders: Sequence[int] = (1, 2)) -> dict[str, float]:
    from gentoolkit_text.evaluate import distinct

    return distinct(samples, orders)


def _self_bleu(samples: Sequence[str], max_samples: int = 200) -> dict[str, float]:
    from gentoolkit_text.evaluate import self_bleu

    return self_bleu(samples, max_samples)


def _repetition(samples: Sequence[str], n: int = 4) -> dict[str, float]:
    from gentoolkit_text.evaluate import repetition

    return repetition(samples, n)


def _run(runtime, config):
    from gentoolkit_text.task import run

    return run(runtime, config)


def _newest_trained_model(runs: Path = Path("runs") / "text") -> Path:
    """The model folder of the newest run under ``runs/text`` (what ``gentoolkit run text`` wrote)."""
    saved = sorted(runs.glob("*/model/config.json"), key=lambda p: p.stat().st_mtime)
    if not saved:
        raise GentoolkitError(f"No trained text model under {runs}/: train one with `gentoolkit run text`, "
                              "or pass --model FOLDER.")
    return saved[-1].parent


@hookimpl
def register_datasets(register) -> None:
    register(Dataset("text-files", _load_text_files, "Text files, or every .txt/.md/.rst file under a folder, "
                     "one document each (path=...).", DOMAIN, items="text"))
    register(Dataset("jsonl", _load_jsonl, "A JSONL file, one document per line from its `field` "
                     "(path=..., field='text').", DOMAIN, items="text"))
    register(Dataset("pydoc-topics", _load_pydoc_topics, "CPython's pydoc help topics: 79 documents, "
                     "~465k characters, installed with every Python.", DOMAIN, items="text"))


@hookimpl
def register_models(register) -> None:
    register(Model("gpt2", _create_gpt2, "GPT-2 architecture (a bare transformers model, no tokenizer) sized by "
                   "vocab_size, n_positions, n_layer, n_head, n_embd; `gentoolkit run text` trains one.", DOMAIN,
                   items="text"))
    register(Model("hf-local", _load_lm, "Any Hugging Face causal LM saved on disk with its tokenizer "
                   "(path=...), loaded offline; samples and scores strings.", DOMAIN,
                   params={"path": "", "device": "cpu", "lr": 5e-5}, capabilities=("sample", "log_prob", "train"),
                   items="text",
                   save=_save_lm, load=_load_lm))


@hookimpl
def register_evaluators(register) -> None:
    register(Evaluator("perplexity", _perplexity, "exp(mean next-token NLL) of a model on texts.", DOMAIN))
    register(Evaluator("distinct", _distinct, "distinct-1/2: unique word n-grams over all n-grams.", DOMAIN))
    register(Evaluator("self-bleu", _self_bleu, "Mean BLEU-4 of each sample against the others "
                       "(lower is more diverse).", DOMAIN))
    register(Evaluator("repetition", _repetition, "seq-rep-4: share of repeated word 4-grams per sample.",
                       DOMAIN))


@hookimpl
def register_tasks(register) -> None:
    from gentoolkit_text.task import DEFAULTS, RANGES

    register(Task("text", _run, DEFAULTS, "Train a GPT-2 (or fine-tune a local causal LM) on text; "
                  "held-out perplexity vs n-gram baselines, samples and diversity metrics.", DOMAIN, ranges=RANGES,
                  headline="heldout_perplexity"))


@hookimpl
def register_commands(cli) -> None:
    import typer

    @cli.group("train").command("text")
    def train_text(
        config: Optional[Path] = typer.Option(None, "--config", "-c", help="TOML config file."),
        overrides: list[str] = typer.Option([], "--set", "-s", help="Override a config key: a.b=value."),
        model: Optional[Path] = typer.Option(None, help="Fine-tune this saved causal LM instead of a new GPT-2."),
        data: Optional[Path] = typer.Option(None, help="Train on these text files / folder (.jsonl: JSONL)."),
        steps: Optional[int] = typer.Option(None, help="Optimizer steps."),
        device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N | mps"),
        precision: str = typer.Option("fp32", help="fp32 | bf16 | fp16"),
        seed: int = typer.Option(0, help="Run seed."),
        out: Optional[Path] = typer.Option(None, help="Run folder (default runs/text/<timestamp>)."),
    ) -> None:
        """Train a GPT-2 from scratch (or fine-tune a saved model) and sample from it."""
        extra: dict[str, Any] = {}
        if model:
            extra["model.path"] = str(model)
        if data:
            extra.update({"data.dataset": "jsonl" if data.suffix == ".jsonl" else "text-files",
                          "data.path": str(data)})
        if steps is not None:
            extra["train.steps"] = steps
        cfg = cli.toolkit.config("text", config, overrides)
        result = cli.toolkit.run("text", cfg, extra, cli.runtime_options(device, precision, seed, out=out))
        cli.print_result(result)

    @cli.group("generate").command("text")
    def generate_text(
        model: Optional[Path] = typer.Option(None, help="A saved model folder; default: the newest "
                                             "runs/text/<run>/model."),
        prompt: list[str] = typer.Option([""], "--prompt", "-p", help="Prompt (repeatable); empty: unconditional."),
        n: int = typer.Option(1, "--num", "-n", help="Samples per prompt."),
        max_new_tokens: int = typer.Option(64, help="Tokens to generate."),
        temperature: float = typer.Option(0.8, help="0 is greedy."),
        top_k: int = typer.Option(50, help="0 keeps all tokens."),
        top_p: float = typer.Option(0.95, help="Nucleus mass; 1 keeps all."),
        repetition_penalty: float = typer.Option(1.0, help="> 1 discourages repeats."),
        stop: list[str] = typer.Option([], help="Stop at this string (repeatable); it is cut off."),
        batch_size: int = typer.Option(8, help="Prompts per generate call (1 when streaming)."),
        stream: bool = typer.Option(True, help="Print tokens as they come."),
        device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N | mps"),
        precision: str = typer.Option("fp32", help="fp32 | bf16 | fp16"),
        seed: int = typer.Option(0, help="Same seed, same text."),
        out: Optional[Path] = typer.Option(None, help="Run folder for samples.jsonl."),
    ) -> None:
        """Sample from a saved causal LM; writes samples.jsonl and metrics.json."""
        overrides = {"model.path": str(model or _newest_trained_model()), "train.steps": 0, "evaluate.perplexity": False,
                     "generate.prompts": prompt, "generate.samples_per_prompt": n,
                     "generate.max_new_tokens": max_new_tokens, "generate.temperature": temperature,
                     "generate.top_k": top_k, "generate.top_p": top_p,
                     "generate.repetition_penalty": repetition_penalty, "generate.stop": stop,
                     "generate.batch_size": batch_size, "generate.stream": stream}
        result = cli.toolkit.run("text", overrides=overrides,
                                 options=cli.runtime_options(device, precision, seed, out=out, progress=not stream))
        cli.print_result(result)
