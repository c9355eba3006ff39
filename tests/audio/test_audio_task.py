"""The audio task end to end (tiny): WAVs, spectrograms, index.html, metrics; generate mode;
refusals; evaluators; the plugin imports no torch."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import soundfile
import torch

from gentoolkit import ConfigError, Model, RuntimeOptions, hookimpl

TINY_RUN = {"model": "audio-wavenet", "params": {"channels": 8, "skip_channels": 16, "layers": 3, "crop": 400},
            "train": {"epochs": 1, "batch_size": 10}, "sample": {"n": 3, "length": 1600}, "evaluate": {"n_clips": 2}}


class ArtifactLog:
    """A plugin that records every generated file the core announces."""

    def __init__(self):
        self.seen = []

    @hookimpl
    def process_artifact(self, artifact, runtime):
        self.seen.append(artifact)
        return {"logged": True}


@pytest.fixture(scope="module")
def run(tmp_path_factory, digits_cache, tiny_digits):
    import gentoolkit_audio
    from gentoolkit import Toolkit

    log = ArtifactLog()
    kit = Toolkit(plugins=[gentoolkit_audio, log], entrypoints=False)
    out = tmp_path_factory.mktemp("audio-run")
    result = kit.run("audio", overrides={**TINY_RUN, "data": {"options": tiny_digits}},
                     options=RuntimeOptions(device="cpu", out=out, progress=False))
    return kit, result, log


def test_full_run_writes_wavs_spectrograms_index_and_metrics(run):
    kit, result, log = run
    out = result.out_dir
    wavs = sorted((out / "samples").glob("*.wav"))
    assert [w.name for w in wavs] == ["sample_000_zero.wav", "sample_001_one.wav", "sample_002_two.wav"]
    info = soundfile.info(str(wavs[0]))
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 1600, "PCM_16")
    assert len(list((out / "real").glob("*.wav"))) == 10
    for name in ("spectrograms.png", "learning_curve.png", "model.json", "model.safetensors", "config.toml"):
        assert (out / name).is_file(), name
    page = (out / "index.html").read_text()
    sources = re.findall(r'<audio controls preload="none" src="([^"]+)"', page)
    assert len(sources) == 13 and all((out / s).is_file() for s in sources)
    assert all((out / s).is_file() for s in re.findall(r'<img src="([^"]+)"', page))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["uniform_bits_per_sample"] == 8.0 and metrics["likelihood_kind"] == "exact"
    assert 0 < metrics["marginal_bits_per_sample"] < 8
    assert 0 < metrics["test_bits_per_sample_given_class"] < 9
    assert metrics["model"]["name"] == "audio-wavenet"
    assert [a.path for a in log.seen] == wavs and all(a.kind == "audio" for a in log.seen)
    assert log.seen[0].metadata["model"]["name"] == "audio-wavenet"


def test_generate_mode_samples_a_saved_model(run, tmp_path):
    kit, result, _ = run
    again = kit.run("audio", overrides={"mode": "generate", "checkpoint": str(result.out_dir / "model.json"),
                                        "sample": {"n": 2, "length": 800}},
                    options=RuntimeOptions(device="cpu", out=tmp_path, progress=False))
    assert again.outputs["samples"].shape == (2, 800)
    assert len(list((tmp_path / "samples").glob("*.wav"))) == 2 and (tmp_path / "index.html").is_file()
    trained = result.outputs["model"]
    assert torch.equal(trained.sample(2, condition=[0, 1], generator=torch.Generator().manual_seed(1), length=300),
                       again.outputs["model"].sample(2, condition=[0, 1], generator=torch.Generator().manual_seed(1),
                                                     length=300))


def test_the_default_model_is_the_mel_vae_scored_by_the_digit_classifier(digits_cache, tiny_digits, audio_kit,
                                                                           tmp_path):
    tiny = {"params": {"width": 16, "levels": 2, "latent_dim": 4, "griffin_lim_iterations": 4},
            "train": {"epochs": 2, "batch_size": 10}, "sample": {"n": 10}, "data": {"options": tiny_digits}}
    result = audio_kit.run("audio", overrides=tiny, options=RuntimeOptions(device="cpu", out=tmp_path, progress=False))
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["model"]["name"] == "audio-mel-vae" and "test_bits_per_sample_given_class" not in metrics
    assert 1 <= metrics["inception_score_digitcnn"] <= 10 and 0 <= metrics["label_accuracy_digitcnn"] <= 1
    assert metrics["real_label_accuracy_digitcnn"] > 0.5 and metrics["frechet_distance_digitcnn_features"] > 0
    assert result.outputs["samples"].shape == (10, 16000)
    assert len(list((tmp_path / "samples").glob("*.wav"))) == 10 and (tmp_path / "learning_curve.png").is_file()


def _image_model(image_shape=(1, 8, 8), classes=()):
    import torch

    class Picture(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            from gentoolkit import ItemSpec
            self.item_spec = ItemSpec("image", tuple(image_shape), (0.0, 1.0))

        def sample(self, n, *, condition=None, generator=None):
            return torch.zeros(n, *image_shape)

    return Picture()


class ImagePlugin:
    @hookimpl
    def register_models(self, register):
        register(Model("picture", _image_model, "an image model", "tests",
                       params={"image_shape": [1, 8, 8], "classes": []}, capabilities=("sample",), items="image"))


def test_a_checkpoint_of_another_family_is_refused_naming_the_file(tmp_path):
    import gentoolkit_audio
    from gentoolkit import Toolkit

    kit = Toolkit(plugins=[gentoolkit_audio, ImagePlugin()], entrypoints=False)
    path = kit.save_model(kit.create_model("picture"), tmp_path / "picture")
    with pytest.raises(ConfigError, match=r"picture\.json holds a model of image items"):
        kit.run("audio", overrides={"mode": "generate", "checkpoint": str(path)},
                options=RuntimeOptions(device="cpu", out=tmp_path / "run", progress=False))


def test_configs_that_cannot_work_are_refused(audio_kit, tmp_path):
    options = RuntimeOptions(device="cpu", out=tmp_path, progress=False)
    with pytest.raises(ConfigError, match="set checkpoint"):
        audio_kit.run("audio", overrides={"mode": "generate"}, options=options)
    with pytest.raises(ConfigError, match="mode 'sing'"):
        audio_kit.run("audio", overrides={"mode": "sing"}, options=options)
    with pytest.raises(Exception, match="Unknown model 'audio-wavnet'.*audio-wavenet"):
        audio_kit.run("audio", overrides={"model": "audio-wavnet"}, options=options)


def test_evaluators(audio_kit):
    from gentoolkit_audio.models import create_model

    clips = 0.3 * torch.randn(2, 4000, generator=torch.Generator().manual_seed(0))  # power in every band
    same = audio_kit.evaluate("audio-log-spectral-distance", clips, reference=clips)
    assert same["log_spectral_distance_db"] == pytest.approx(0.0, abs=1e-5)
    half = audio_kit.evaluate("audio-log-spectral-distance", clips * 0.5, reference=clips)
    assert half["log_spectral_distance_db"] == pytest.approx(20 * torch.log10(torch.tensor(2.0)).item(), abs=1e-3)
    assert audio_kit.evaluate("audio-mean-spectrum-distance", clips, reference=clips)["mean_spectrum_distance_db"] == 0
    model = create_model("wavenet", 4000, 16000, channels=4, skip_channels=8, layers=2)
    bits = audio_kit.evaluate("audio-bits-per-sample", clips, model=model, reference=clips.flip(0))
    assert 7 < bits["bits_per_sample"] < 9 and bits["uniform_bits_per_sample"] == 8.0
    from gentoolkit_audio.metrics import marginal_bits_per_sample

    every_code = model.decode(torch.arange(256).repeat(50))  # each mu-law code equally often
    assert marginal_bits_per_sample(every_code, every_code) == pytest.approx(8.0, abs=1e-6)
    silence = torch.zeros(1, 1000)
    assert marginal_bits_per_sample(torch.cat([silence, silence + 0.5], 1), silence) < 2
    with pytest.raises(ConfigError, match="reference="):
        audio_kit.evaluate("audio-log-spectral-distance", clips)


def test_importing_the_plugin_imports_no_torch():
    code = "import sys, gentoolkit_audio; print('torch' in sys.modules, 'torchaudio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_generate_audio_command_writes_wavs(run, tmp_path):
    from typer.testing import CliRunner

    from gentoolkit.cli import make_app

    kit, result, _ = run
    args = ["generate", "audio", "--model-path", str(result.out_dir / "model.json"), "--n", "1", "--out",
            str(tmp_path), "--device", "cpu", "--temperature", "0.8", "--length", "400"]
    done = CliRunner().invoke(make_app(kit.host), args)
    assert done.exit_code == 0, done.output
    assert [p.name for p in (tmp_path / "samples").glob("*.wav")] == ["sample_000_zero.wav"]
    assert soundfile.info(str(tmp_path / "samples" / "sample_000_zero.wav")).frames == 400


def test_griffin_lim_resynthesises_mel_frames_close_to_the_original():
    from gentoolkit_audio.metrics import log_spectral_distance
    from gentoolkit_audio.synth import load_synthetic
    from gentoolkit_audio.vocoder import griffin_lim, mel

    clips = load_synthetic("test", per_class=1, kinds=["chord", "chirp"], seconds=0.25).waveforms
    frames = mel(clips)
    assert frames.shape == (2, 64, 32)
    back = griffin_lim(frames, clips.shape[1], iterations=32)
    assert back.shape == clips.shape
    near = log_spectral_distance(back, clips)
    far = log_spectral_distance(back, clips.flip(0))  # the other clip
    assert (near < 0.6 * far).all()
    for a, b in zip(mel(back), frames):  # the resynthesis has the original's mel frames
        assert torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1] > 0.8
