"""BPE tokenizer, GPT-2 creation and loading, training, Hugging Face round trip, checkpoint resume."""

from __future__ import annotations

import pytest
import torch

from gentoolkit_text.data import token_blocks, token_stream
from gentoolkit_text.model import ModelPathError, gpt2, load_local
from gentoolkit_text.tokenizer import load_tokenizer, train_bpe
from gentoolkit_text.training import TrainConfig, learning_rate, train


def test_bpe_round_trips_any_text(tokenizer, tmp_path):
    text = "def f(x):\n    return x ** 2  # ünïcödé ✓"
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.decode(ids) == text
    assert len(ids) < len(text.encode())  # merges were learned
    assert tokenizer.eos_token == "<|endoftext|>" and tokenizer.eos_token_id == 0
    tokenizer.save_pretrained(tmp_path)
    again = load_tokenizer(tmp_path)
    assert again(text)["input_ids"] == ids and len(again) == len(tokenizer) == 300


def test_bpe_vocab_size_is_respected():
    tok = train_bpe(["aaa bbb aaa bbb ccc " * 50], vocab_size=270)
    assert 257 <= len(tok) <= 270  # 256 bytes + <|endoftext|> + merges


def test_missing_paths_raise_before_any_hub_lookup(tmp_path):
    with pytest.raises(ModelPathError, match=r"No model folder at .*nope.*never downloads"):
        load_local(tmp_path / "nope")
    with pytest.raises(ModelPathError, match="No tokenizer folder"):
        load_tokenizer("gpt2")  # a hub name, not a folder here: refused, not downloaded
    with pytest.raises(ModelPathError, match="has no config.json"):
        load_local(tmp_path)


def test_gpt2_size_follows_config():
    model = gpt2(vocab_size=100, n_positions=16, n_layer=1, n_head=2, n_embd=8)
    assert model.config.n_layer == 1 and model.transformer.wte.weight.shape == (100, 8)
    with pytest.raises(Exception, match="multiple of model.n_head"):
        gpt2(vocab_size=100, n_embd=10, n_head=4)


def test_learning_rate_warms_up_then_decays_to_a_tenth():
    cfg = TrainConfig(steps=100, lr=1.0, warmup=10)
    assert learning_rate(0, cfg) == pytest.approx(0.1)
    assert learning_rate(10, cfg) == pytest.approx(1.0)
    assert learning_rate(100, cfg) == pytest.approx(0.1)


def _blocks(corpus, tokenizer):
    ids = token_stream(corpus, tokenizer)
    return token_blocks(ids[:6000], 32, 16), token_blocks(ids[6000:8000], 32)


def test_training_lowers_loss_and_saves_a_plain_transformers_model(runtime, corpus, tokenizer, tiny_model, tmp_path):
    from transformers import AutoModelForCausalLM

    train_blocks, held = _blocks(corpus, tokenizer)
    cfg = TrainConfig(steps=40, batch_size=8, lr=1e-2, warmup=5, eval_every=20, checkpoint_every=0)
    result = train(runtime, tiny_model, train_blocks, held, cfg)
    losses = [h["train_loss"] for h in result.history]
    assert len(losses) == 40 and sum(losses[-5:]) / 5 < losses[0] - 1.0
    held_losses = [h["val_loss"] for h in result.history if "val_loss" in h]
    assert len(held_losses) == 2 and held_losses[-1] < losses[0]
    assert (runtime.out_dir / "checkpoint.safetensors").exists() and result.tokens_per_second > 0

    tiny_model.save_pretrained(tmp_path / "saved")
    plain = AutoModelForCausalLM.from_pretrained(tmp_path / "saved", local_files_only=True).eval()
    x = held[:2, :-1]
    with torch.no_grad():
        assert torch.equal(tiny_model.eval()(input_ids=x).logits, plain(input_ids=x).logits)


class _Crash(Exception):
    pass


def test_resume_continues_exactly_where_a_killed_run_stopped(tmp_path, corpus, tokenizer):
    from gentoolkit.runtime import Runtime, RuntimeOptions

    train_blocks, held = _blocks(corpus, tokenizer)
    train_blocks = train_blocks[:64]  # 8 batches an epoch: the checkpoint at step 10 is mid-epoch

    class CrashingRuntime(Runtime):
        """Dies inside step ``crash_at`` (its loss is reduced once per step), as a killed job would."""

        crash_at = 0
        steps_done = 0

        def all_reduce_mean(self, value):
            self.steps_done += 1
            self.crash_at -= 1
            if self.crash_at == 0:
                raise _Crash
            return super().all_reduce_mean(value)

    def run(folder, crash_at=0):
        runtime = CrashingRuntime(RuntimeOptions(device="cpu", seed=0, out=folder, progress=False)).start()
        runtime.crash_at = crash_at
        torch.manual_seed(0)
        model = gpt2(vocab_size=len(tokenizer), n_positions=32, n_layer=1, n_head=2, n_embd=32)
        cfg = TrainConfig(steps=12, batch_size=8, lr=1e-2, warmup=2, eval_every=100, checkpoint_every=5)
        return model, train(runtime, model, train_blocks, held, cfg), runtime

    straight, _, _ = run(tmp_path / "a")
    with pytest.raises(_Crash):
        run(tmp_path / "b", crash_at=12)  # checkpoints at 5 and 10, killed in step 12
    resumed, result, runtime = run(tmp_path / "b")
    assert runtime.steps_done == 2  # only steps 11 and 12 ran again
    assert [h["step"] for h in result.history] == list(range(1, 13))
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name


def test_a_folder_of_pickled_weights_is_refused_before_torch_load(tmp_path, monkeypatch):
    gpt2(vocab_size=50, n_positions=16, n_layer=1, n_head=2, n_embd=8).save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    assert load_local(tmp_path).config.n_embd == 8  # safetensors load as before
    (tmp_path / "model.safetensors").unlink()
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04\x95" + b"\x00" * 64)  # a pickle
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load must never be reached"))
    with pytest.raises(ModelPathError, match="holds pytorch_model.bin, weights in pickle format.*model.safetensors"):
        load_local(tmp_path)


def test_causal_lm_scores_each_token_and_is_fine_tuned_by_the_core_loop(tokenizer, tiny_model, corpus, runtime):
    from gentoolkit.protocols import TokenDensity, Trainable
    from gentoolkit.training import fit
    from gentoolkit_text.lm import CausalLM

    lm = CausalLM(tiny_model, tokenizer)
    lm.lr = 1e-2
    texts = ["import os", "The quick brown fox."]
    tokens = lm.token_log_probs(texts)
    assert isinstance(lm, TokenDensity) and isinstance(lm, Trainable)
    assert "".join(tokens[0][0][:-1]) == "import os" and tokens[0][0][-1] == tokenizer.decode([tokenizer.eos_token_id])
    torch.testing.assert_close(torch.stack([v.sum() for _, v in tokens]), lm.log_prob(texts))
    lines = [line for text in corpus[:4] for line in text.splitlines() if 10 < len(line) < 30][:32]
    before = float(lm.log_prob(lines).mean())
    history = fit(lm, lines, runtime, epochs=3, batch_size=8, resume=False)
    assert history[-1]["nll"] < history[0]["nll"] and float(lm.log_prob(lines).mean()) > before
