"""The shared model contract: every registered model passes one battery through the protocols it
declares (like scikit-learn's check_estimator); third-party plugins train and use other
plugins' models through the registry; plugins import only the core's public modules."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
from pathlib import Path

import pytest
import torch

from gentoolkit import CheckpointError, ConfigError, Density, RuntimeOptions, Sampler, Toolkit
from gentoolkit.protocols import CAPABILITIES, TokenDensity

ROOT = Path(__file__).resolve().parents[2]
torch.set_num_threads(1)

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "Clc1ccc(Br)cc1", "C[NH3+]", "O=C([O-])CS"]
# Tiny sizes per registered model; a model not listed is built with its defaults.
TINY = {
    "image-vae": {"latent_dim": 4, "width": 8},
    "image-gan": {"latent_dim": 4, "width": 8},
    "image-realnvp": {"num_scales": 1, "steps_per_scale": 1, "hidden_channels": 8, "levels": 17},
    "image-glow": {"num_scales": 1, "steps_per_scale": 1, "hidden_channels": 8, "levels": 17},
    "image-pixelcnn": {"channels": 8, "num_layers": 2, "levels": 17, "image_shape": [1, 4, 4]},
    "image-ddpm": {"base_channels": 8, "num_timesteps": 10, "levels": 17},
    "audio-wavenet": {"length": 200, "channels": 4, "skip_channels": 8, "layers": 3},
    "image-cyclegan": {"channels": 4, "num_res_blocks": 1, "disc_channels": 4},
    "prior-lstm": {"smiles": SMILES, "embedding": 8, "hidden": 16, "layers": 1},
    "prior-gru": {"smiles": SMILES, "embedding": 8, "hidden": 16, "layers": 1},
    "prior-transformer": {"smiles": SMILES, "embedding": 16, "layers": 1, "heads": 2},
    "tabular-tvae": {"embedding_dim": 4, "compress_dims": [8], "decompress_dims": [8]},
    "tabular-ctgan": {"embedding_dim": 4, "generator_dim": [8], "discriminator_dim": [8]},
}
# Models built from their data (setup(dataset), as the core loop calls it) get this dataset per item kind.
SETUP_DATA = {"tabular": ("wine", {"split": "train"})}


def thirdparty(name: str):
    """A plugin module from tests/core/thirdparty, loaded as any module object would be."""
    spec = importlib.util.spec_from_file_location(f"thirdparty_{name}", Path(__file__).parent / "thirdparty" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def kit():
    return Toolkit()


@pytest.fixture(scope="module")
def lm_folder(tmp_path_factory):
    """A tiny GPT-2 and BPE tokenizer saved as a Hugging Face folder (what `run text` writes)."""
    from gentoolkit_text.data import pydoc_topics
    from gentoolkit_text.lm import CausalLM
    from gentoolkit_text.model import gpt2
    from gentoolkit_text.tokenizer import train_bpe

    tokenizer = train_bpe(pydoc_topics()[:4], vocab_size=300)
    model = gpt2(len(tokenizer), n_positions=64, n_layer=1, n_head=2, n_embd=16,
                 eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id)
    return CausalLM(model, tokenizer).save(tmp_path_factory.mktemp("lm") / "model")


def items_for(model, n: int):
    """``n`` items of the kind the model works on."""
    spec = model.item_spec
    if spec.kind == "image":
        return torch.rand(n, *spec.shape)
    if spec.kind == "waveform":
        return torch.rand(n, *spec.shape) * 2 - 1
    if spec.kind == "smiles":
        return SMILES[:n]
    if spec.kind == "text":
        return ["def f(x):\n    return x", "The quick brown fox.", "import os", "print(1)"][:n]
    raise AssertionError(f"no test items for {spec.kind}")


def contract_models(kit) -> list[str]:
    return [e.name for e in kit.models.entries() if e.value.capabilities]


def test_every_model_with_capabilities_passes_the_contract(kit, lm_folder, tmp_path):
    names = contract_models(kit)
    assert {"image-vae", "image-ddpm", "image-pixelcnn", "prior-lstm", "default-prior", "hf-local"} <= set(names)
    for name in names:
        entry = kit.models.entry(name).value
        params = {"path": str(lm_folder)} if name == "hf-local" else TINY.get(name, {})
        model = kit.create_model(name, **params)
        if hasattr(model, "setup") and entry.items in SETUP_DATA:
            dataset, options = SETUP_DATA[entry.items]
            model.setup(kit.load_dataset(dataset, **options))
        for capability in entry.capabilities:  # declared ==> implemented, checked through the protocol
            assert isinstance(model, CAPABILITIES[capability]), f"{name} declares {capability}"
        assert model.item_spec.kind == entry.items, name
        if isinstance(model, torch.nn.Module):
            model.eval()
        generator = lambda: torch.Generator().manual_seed(0)  # noqa: E731
        loaded = kit.load_model(kit.save_model(model, tmp_path / name))
        assert loaded.model_card.name == name and loaded.model_card.plugin == kit.models.entry(name).plugin
        if isinstance(model, Sampler):
            samples = model.sample(3, generator=generator(), **({"max_new_tokens": 4} if name == "hf-local" else {}))
            assert len(samples) == 3, name
            if model.item_spec.kind in ("image", "waveform"):
                low, high = model.item_spec.value_range
                assert tuple(samples.shape[1:]) == model.item_spec.shape and low <= samples.min() <= samples.max() <= high
            again = loaded.sample(3, generator=generator(), **({"max_new_tokens": 4} if name == "hf-local" else {}))
            assert (torch.equal(samples, again) if torch.is_tensor(samples) else samples == again), name
        if isinstance(model, Density):
            x = items_for(model, 4)
            scores = model.log_prob(x)
            assert scores.shape == (4,) and torch.isfinite(scores).all(), name
            assert model.likelihood_kind in ("exact", "bound", "dequantized")
            assert torch.allclose(loaded.log_prob(x), scores, rtol=1e-4, atol=1e-3), name
        if isinstance(model, TokenDensity):  # per-token log-probabilities add up to log_prob
            tokens = model.token_log_probs(items_for(model, 4))
            assert [len(words) for words, _ in tokens] == [len(values) for _, values in tokens], name
            assert torch.allclose(torch.stack([values.sum() for _, values in tokens]), scores, atol=1e-4), name


def test_models_can_lists_density_models_of_every_plugin(kit):
    from typer.testing import CliRunner

    from gentoolkit.cli import make_app

    result = CliRunner().invoke(make_app(kit.host), ["models", "--can", "log_prob", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert {"image-vae", "image-pixelcnn", "image-ddpm", "prior-lstm", "hf-local"} <= rows.keys()
    assert "image-gan" not in rows and "gpt2" not in rows
    assert {row["plugin"] for row in rows.values()} >= {"image", "molecules", "text"}
    dense_images = kit.names_of("models", items="image", can=["log_prob"])
    assert "image-vae" in dense_images and "image-gan" not in dense_images and "prior-lstm" not in dense_images
    bad = CliRunner().invoke(make_app(kit.host), ["models", "--can", "log_pdf"])
    assert bad.exit_code != 0 and "log_prob" in str(bad.exception)


def test_third_party_family_is_trained_by_the_image_task(tmp_path):
    import gentoolkit_image

    from gentoolkit import hookimpl

    class Marker:  # what a provenance plugin sees
        seen = []

        @hookimpl
        def process_artifact(self, artifact, runtime):
            self.seen.append((artifact.path.name, artifact.kind, artifact.metadata["model"]["name"]))

    kit = Toolkit(plugins=[gentoolkit_image, thirdparty("pixel_gaussian"), Marker()], entrypoints=False)
    overrides = {"model": "pixel-gaussian", "train.epochs": 3, "train.batch_size": 128, "sample.n": 16,
                 "evaluate.n_samples": 100, "evaluate.kid_subsets": 5}
    result = kit.run("image", overrides=overrides, options=RuntimeOptions(device="cpu", out=tmp_path, progress=False))
    history = result.outputs["history"]
    assert [row["epoch"] for row in history] == [1, 2, 3] and history[-1]["loss"] < history[0]["loss"]
    assert (tmp_path / "samples.png").is_file() and result.metrics["fid"] > 0
    assert result.outputs["metrics"]["likelihood"] == "exact" and "nll_nats" in result.metrics
    assert kit.load_model(tmp_path / "model.json").model_card.name == "pixel-gaussian"
    assert Marker.seen == [("samples.png", "image", "pixel-gaussian"),  # generated files are declared
                           ("samples.safetensors", "image", "pixel-gaussian")]


def test_third_party_dataset_trains_a_built_in_conditional_model(tmp_path):
    import gentoolkit_image

    kit = Toolkit(plugins=[gentoolkit_image, thirdparty("pixel_gaussian")], entrypoints=False)
    overrides = {"model": "image-vae", "data.name": "squares", "conditional": True, "mode": "train",
                 "train.epochs": 2, "train.batch_size": 64, "params": {"latent_dim": 4, "width": 8}, "sample.n": 4}
    result = kit.run("image", overrides=overrides, options=RuntimeOptions(device="cpu", out=tmp_path, progress=False))
    assert result.outputs["model"].item_spec.classes == ("small", "large")  # class names from the dataset
    assert result.outputs["samples"].shape == (4, 1, 8, 8)
    from gentoolkit import Dataset, hookimpl

    class Tables:
        @hookimpl
        def register_datasets(self, register):
            register(Dataset("wine-table", lambda **_: [], "rows", items="tabular"))

    kit = Toolkit(plugins=[gentoolkit_image, thirdparty("pixel_gaussian"), Tables()], entrypoints=False)
    with pytest.raises(ConfigError, match="holds tabular items, not images; image datasets: .*squares"):
        kit.run("image", overrides={"data.name": "wine-table"}, options=RuntimeOptions(out=tmp_path / "x", progress=False))


def test_third_party_consumer_uses_a_vae_trained_by_run_image(tmp_path):
    """The README's 'Using another plugin's models': a plugin that imports nothing of the image
    plugin loads the VAE `gentoolkit run image` trained, scores images and samples."""
    kit = Toolkit(plugins=[thirdparty("image_scorer")])  # every installed plugin, plus the consumer
    options = lambda out: RuntimeOptions(device="cpu", out=out, progress=False)  # noqa: E731
    kit.run("image", overrides={"mode": "train", "train.epochs": 3, "train.batch_size": 64,
                                "params": {"latent_dim": 4, "width": 8}, "sample.n": 4}, options=options(tmp_path / "vae"))
    result = kit.run("score-images", overrides={"model": str(tmp_path / "vae" / "model.json"), "n": 16},
                     options=options(tmp_path / "score"))
    assert result.outputs["scores"].shape == (16,) and result.outputs["kind"] == "bound"
    assert result.metrics["mean_log_prob"] > result.metrics["noise_mean_log_prob"]  # digits beat noise
    assert result.outputs["samples"].shape == (16, 1, 8, 8)


def test_model_params_are_checked_against_the_schema(kit):
    with pytest.raises(ConfigError, match="Model 'image-vae'.*latnt_dim.*Did you mean 'latent_dim'"):
        kit.create_model("image-vae", latnt_dim=4)
    with pytest.raises(ConfigError, match="embedding"):
        kit.create_model("prior-lstm", embedding="big")


def test_a_model_whose_plugin_is_missing_is_refused_clearly(kit, tmp_path):
    path = kit.save_model(kit.create_model("image-vae", **TINY["image-vae"]), tmp_path / "vae")
    bare = Toolkit(plugins=[], entrypoints=False)
    with pytest.raises(CheckpointError, match=r"plugin 'image'.*not installed.*gentoolkit plugins install image"):
        bare.load_model(path)
    from gentoolkit.checkpoint import save_checkpoint

    plain = save_checkpoint(tmp_path / "plain", {"weights": torch.zeros(2)})  # a checkpoint, but no model
    with pytest.raises(CheckpointError, match="no model card"):
        kit.load_model(plain)
    shipped = kit.load_model(ROOT / "plugins/molecules/gentoolkit_molecules/data/prior/prior.json")
    assert shipped.model_card.name == "default-prior" and len(shipped.sample(2)) == 2  # shipped artefacts carry cards


def test_toolkits_are_independent(tmp_path):
    """Each toolkit has its own host: one with an extra scoring component does not leak it into
    another built later in the same process, and neither replaces a process-wide host."""
    from gentoolkit import hookimpl

    class Extra:
        @hookimpl
        def register_scoring_components(self, register):
            from gentoolkit_molecules.scoring.component import ScoringComponent

            register(ScoringComponent("always-one", lambda: (lambda mols: [1.0] * len(mols)), "test"))

    with_extra = Toolkit(plugins=[Extra()])
    without = Toolkit()
    kind = ("register_scoring_components", "scoring component")
    assert "always-one" in with_extra.contributions(*kind)
    assert "always-one" not in without.contributions(*kind)
    assert "always-one" in with_extra.contributions(*kind)  # building the second did not touch the first


PUBLIC = {"gentoolkit", "gentoolkit.api", "gentoolkit.checkpoint", "gentoolkit.cli", "gentoolkit.conditioning",
          "gentoolkit.config", "gentoolkit.contributions", "gentoolkit.errors", "gentoolkit.hookspecs", "gentoolkit.models",
          "gentoolkit.protocols", "gentoolkit.parallel", "gentoolkit.registry", "gentoolkit.runlog", "gentoolkit.runtime",
          "gentoolkit.training"}


def test_plugins_import_only_the_public_core():
    """Every import of gentoolkit in a plugin names a public module and names in its __all__."""
    bad = []
    files = [*ROOT.glob("plugins/*/gentoolkit_*/**/*.py"), *Path(__file__).parent.glob("thirdparty/*.py")]
    assert len(files) > 40
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "gentoolkit":
                module = importlib.import_module(node.module) if node.module in PUBLIC else None
                for alias in node.names:
                    if module is None or alias.name not in module.__all__:
                        bad.append(f"{path.relative_to(ROOT)}: from {node.module} import {alias.name}")
            elif isinstance(node, ast.Import):
                bad += [f"{path.relative_to(ROOT)}: import {a.name}" for a in node.names
                        if a.name.startswith("gentoolkit.") and a.name not in PUBLIC]
    assert not bad, "plugins reach into the core's private parts:\n" + "\n".join(bad)


@pytest.mark.parametrize("name", ["image-vae", "image-glow", "image-ddpm", "image-pixelcnn"])
def test_an_item_scores_the_same_alone_or_in_any_batch(kit, name):
    """Anomaly scores must not depend on an item's neighbours in the batch."""
    model = kit.create_model(name, **TINY[name]).eval()
    x = torch.rand(5, *model.item_spec.shape)
    with torch.no_grad():
        together = model.log_prob(x)
        alone = torch.cat([model.log_prob(x[i:i + 1]) for i in range(5)])
        shuffled = model.log_prob(x.flip(0)).flip(0)
    assert torch.allclose(alone, together, atol=1e-4) and torch.allclose(shuffled, together, atol=1e-4)


def test_a_module_wrapper_passes_the_module_calls_to_the_network_it_names():
    from gentoolkit.protocols import ModuleWrapper

    class Held(ModuleWrapper):
        wrapped = "net"

        def __init__(self):
            self.net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))

    model = Held()
    assert model.eval() is model and not model.net.training
    assert model.train() is model and model.net.training
    assert [p.shape for p in model.parameters()] == [p.shape for p in model.net.parameters()]
    assert len(list(model.buffers())) == 3  # BatchNorm's running mean, var and count
    other = Held()
    other.load_state_dict(model.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(other.net.parameters(), model.net.parameters()))
