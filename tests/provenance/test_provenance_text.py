"""The green-list text watermark: applied while sampling, found in marked samples after token
substitutions, silent on real text, and end to end through `run text` and `detect`."""

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import gentoolkit_provenance  # noqa: E402
from gentoolkit.api import Toolkit  # noqa: E402
from gentoolkit.runtime import RuntimeOptions  # noqa: E402
from gentoolkit_provenance.detect import detect  # noqa: E402
from gentoolkit_provenance.settings import load_settings  # noqa: E402
from gentoolkit_provenance.textmark import Z_THRESHOLD, text_watermark, z_score  # noqa: E402


@pytest.fixture(scope="module")
def corpus():
    from gentoolkit_text.data import pydoc_topics
    from gentoolkit_text.tokenizer import train_bpe

    docs = pydoc_topics()
    tokenizer = train_bpe(docs[:30], vocab_size=1024)
    ids = [i for d in docs for i in tokenizer(d, add_special_tokens=False)["input_ids"]]
    return tokenizer, ids


def _claims(tokenizer):
    return {"vocab_size": len(tokenizer), "bos_token_id": tokenizer.bos_token_id}


def _sample(tokenizer, watermark):
    from gentoolkit_text.generation import Sampling, generate
    from gentoolkit_text.model import gpt2

    torch.manual_seed(0)
    model = gpt2(len(tokenizer), n_positions=64, n_layer=1, n_head=2, n_embd=32)  # untrained: high entropy
    texts = generate(model, tokenizer, ["The "] * 6, Sampling(max_new_tokens=32, min_new_tokens=32, top_k=50),
                     watermark=watermark)
    return [i for t in texts for i in tokenizer(t, add_special_tokens=False)["input_ids"]]


def test_marked_samples_are_found_after_10_percent_substitution_and_unmarked_ones_are_not(corpus):
    tokenizer, _ = corpus
    settings = load_settings()
    marked, plain = _sample(tokenizer, text_watermark(settings)), _sample(tokenizer, None)
    z_marked, _ = z_score(marked, _claims(tokenizer), settings)
    assert z_marked > 6  # measured 9.1 on 6 samples of 32 tokens
    rng = np.random.default_rng(0)
    hit = rng.random(len(marked)) < 0.1
    substituted = np.where(hit, rng.integers(0, len(tokenizer), len(marked)), marked).tolist()
    assert z_score(substituted, _claims(tokenizer), settings)[0] >= Z_THRESHOLD
    assert z_score(plain, _claims(tokenizer), settings)[0] < Z_THRESHOLD
    assert z_score(marked, _claims(tokenizer), load_settings(key="another"))[0] < Z_THRESHOLD


def test_real_text_is_not_flagged(corpus):
    tokenizer, ids = corpus
    settings = load_settings()
    chunks = [ids[i:i + 64] for i in range(0, 64 * 300, 64)]
    zs = np.array([z_score(chunk, _claims(tokenizer), settings)[0] for chunk in chunks])
    assert (zs >= Z_THRESHOLD).sum() == 0 and abs(zs.mean()) < 0.5  # bench: 0 of 1,200 at z >= 4


def test_a_text_run_writes_marked_samples_that_detect_finds(tmp_path):
    import gentoolkit_text

    tiny = {"tokenizer.vocab_size": 300, "model.n_layer": 1, "model.n_embd": 32, "model.n_head": 2,
            "model.n_positions": 64, "train.block_size": 32, "train.stride": 32, "train.steps": 2,
            "train.batch_size": 4, "train.eval_every": 2, "train.checkpoint_every": 0, "evaluate.perplexity": False,
            "generate.prompts": ["", "The "], "generate.samples_per_prompt": 4, "generate.max_new_tokens": 32,
            "generate.min_new_tokens": 32}
    kit = Toolkit(plugins=[gentoolkit_text, gentoolkit_provenance], entrypoints=False)
    kit.run("text", overrides=tiny, options=RuntimeOptions(device="cpu", seed=0, out=tmp_path / "run", progress=False))
    [report] = detect([tmp_path / "run" / "samples.jsonl"])
    assert report["status"] == "marked" and report["watermark"]["verdict"] == "marked"
    assert report["watermark"]["z_score"] >= Z_THRESHOLD and report["watermark"]["samples"] == 8
    record = report["manifest"]["manifest"]["text_watermark"]
    assert record["tokenizer"] == "model" and record["vocab_size"] == 300 and "hashing_key" not in json.dumps(record)
    assert Path(tmp_path / "run" / "model" / "tokenizer.json").is_file()
