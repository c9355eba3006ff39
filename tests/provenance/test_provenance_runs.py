"""End to end: after tiny image and molecules runs, detect reports every generated file as marked."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import gentoolkit_provenance  # noqa: E402
from gentoolkit.api import Toolkit  # noqa: E402
from gentoolkit.errors import ConfigError  # noqa: E402
from gentoolkit.runtime import RuntimeOptions  # noqa: E402
from gentoolkit_provenance.credentials import mint_credentials  # noqa: E402
from gentoolkit_provenance.detect import detect  # noqa: E402

TINY_IMAGE = {"mode": "train", "train.epochs": 1, "train.batch_size": 128, "sample.n": 20,
              "params": {"latent_dim": 4, "width": 8}}
MOLECULES = ["CCO", "CCN", "CCCO", "CCCN", "OCCO", "NCCN", "CC(C)O", "CCOC", "c1ccccc1", "c1ccncc1",
             "Cc1ccccc1", "Oc1ccccc1", "CC(=O)O", "C1CCCCC1", "C1CCOCC1", "CC(=O)Nc1ccccc1"]


def _options(path):
    return RuntimeOptions(device="cpu", seed=0, out=path, progress=False, threads=1)


def _by_name(folder):
    return {Path(r["file"]).name: r for r in detect([folder])}


def test_an_image_run_marks_its_samples(tmp_path):
    import gentoolkit_image

    mint_credentials()  # `gentoolkit provenance init` into the test's user config folder
    kit = Toolkit(plugins=[gentoolkit_image, gentoolkit_provenance], entrypoints=False)
    kit.run("image", overrides=TINY_IMAGE, options=_options(tmp_path / "run"))
    reports = _by_name(tmp_path / "run")
    grid, tensors = reports["samples.png"], reports["samples.safetensors"]
    assert grid["status"] == "marked" and grid["watermark"]["bit_accuracy"] == 1.0
    assert grid["manifest"]["state"] == "untrusted"  # the public default key
    assert grid["c2pa"]["state"] == "untrusted" and grid["c2pa"]["claims"]["run_id"] == grid["manifest"]["manifest"]["run_id"]
    claims = grid["manifest"]["manifest"]
    assert claims["run_id"].startswith(grid["watermark"]["payload"])
    assert claims["generator"]["plugin"] == "image" and claims["generator"]["task"] == "image"
    assert claims["generator"]["model"]["name"] == "image-vae" and claims["action"] == "c2pa.created"
    assert tensors["status"] == "marked" and tensors["watermark"]["verdict"] == "none possible"
    assert reports["learning_curve.png"]["status"] == "unmarked"  # a plot, not generated content


def test_opting_out_of_the_watermark_keeps_the_manifest(tmp_path, monkeypatch):
    import gentoolkit_image

    monkeypatch.setenv("GENTOOLKIT_PROVENANCE_WATERMARK", "false")
    kit = Toolkit(plugins=[gentoolkit_image, gentoolkit_provenance], entrypoints=False)
    kit.run("image", overrides=TINY_IMAGE, options=_options(tmp_path))
    grid = _by_name(tmp_path)["samples.png"]
    assert grid["watermark"]["verdict"] == "unmarked"
    assert grid["manifest"]["manifest"]["watermark"] == "off (opted out)" and grid["status"] == "marked"
    assert grid["c2pa"]["state"] == "absent"  # no `provenance init` in this user config
    recorded = {Path(g["file"]).name: g for g in json.loads((tmp_path / "run.json").read_text())["generated"]}
    [done] = recorded["samples.png"]["processed"].values()  # run.json records what was done
    assert done["watermark"] == "off (opted out)" and done["c2pa"].startswith("none: no signing certificate")


def test_a_molecules_run_signs_its_csv_tags_its_sdf_and_marks_its_grid(tmp_path):
    pytest.importorskip("rdkit")
    import gentoolkit_molecules
    from gentoolkit_molecules.prior import Prior
    from gentoolkit_molecules.tokenizer import Vocabulary

    torch.manual_seed(0)
    prior = Prior.create(Vocabulary.from_smiles(MOLECULES), kind="gru", embedding=16, hidden=32, layers=1)
    prior_path = str(prior.save(tmp_path / "prior" / "tiny").with_suffix(""))
    kit = Toolkit(plugins=[gentoolkit_molecules, gentoolkit_provenance], entrypoints=False)
    out = tmp_path / "run"
    kit.run("molecules", None, {"prior": prior_path, "rl.max_steps": 2, "rl.batch_size": 16}, _options(out))
    reports = _by_name(out)
    for name in ("molecules.csv", "top.sdf"):
        assert reports[name]["status"] == "marked" and reports[name]["manifest"]["state"] == "untrusted", name
        assert reports[name]["watermark"]["verdict"] == "none possible"
    assert (out / "top.sdf").read_text().count(">  <AI_GENERATED>") == (out / "top.sdf").read_text().count("$$$$")
    assert reports["top.png"]["status"] == "marked"  # a picture of generated molecules is generated content too


def test_importing_the_plugin_imports_neither_numpy_nor_torch():
    code = "import sys, gentoolkit_provenance; print('numpy' in sys.modules, 'torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert done.stdout.split() == ["False", "False"], done.stderr


def test_set_provenance_opts_out_and_sets_the_key_for_a_run_and_keeps_the_key_out_of_config_toml(tmp_path):
    import tomllib

    import gentoolkit_image

    kit = Toolkit(plugins=[gentoolkit_image, gentoolkit_provenance], entrypoints=False)
    kit.run("image", overrides={**TINY_IMAGE, "provenance.watermark": False, "provenance.key": "run secret"},
            options=_options(tmp_path))
    assert tomllib.loads((tmp_path / "config.toml").read_text())["provenance"] == {
        "watermark": False, "certificate": "", "private_key": ""}
    [grid] = detect([tmp_path / "samples.png"], key="run secret")
    assert grid["manifest"]["state"] == "valid" and grid["watermark"]["verdict"] == "unmarked"
    assert grid["manifest"]["manifest"]["watermark"] == "off (opted out)"


def test_a_broken_signing_setup_stops_the_run_before_any_work(tmp_path, user_config):
    import gentoolkit_image

    folder = mint_credentials(tmp_path / "short", days=0)  # expired the moment it was minted
    kit = Toolkit(plugins=[gentoolkit_image, gentoolkit_provenance], entrypoints=False)
    broken = {"provenance.certificate": str(folder / "signer-chain.pem"),
              "provenance.private_key": str(folder / "signer-key.pem")}
    with pytest.raises(ConfigError, match="expired on .*provenance init --force"):
        kit.run("image", overrides={**TINY_IMAGE, **broken}, options=_options(tmp_path / "run"))
    assert not (tmp_path / "run").exists()
    done = subprocess.run([sys.executable, "-m", "gentoolkit", "run", "image", "--out", str(tmp_path / "cli"),
                           "--set", f"provenance.certificate={tmp_path / 'nope.pem'}",
                           "--set", f"provenance.private_key={folder / 'signer-key.pem'}"],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "300"}, timeout=120)
    assert done.returncode == 2 and "nope.pem" in done.stderr and "does not exist" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "cli").exists()
    (user_config / "config.toml").write_text('[provenance]\nkeys = "typo"\n')  # a broken user config, likewise
    with pytest.raises(ConfigError, match="Unknown key.*keys.*in \\[provenance\\]"):
        Toolkit(plugins=[gentoolkit_image, gentoolkit_provenance], entrypoints=False).run(
            "image", overrides=TINY_IMAGE, options=_options(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_an_audio_run_marks_every_wav_and_real_clips_read_unmarked(tmp_path, monkeypatch):
    import soundfile

    import gentoolkit_audio

    monkeypatch.setenv("GENTOOLKIT_CACHE", str(tmp_path / "cache"))
    mint_credentials()
    kit = Toolkit(plugins=[gentoolkit_audio, gentoolkit_provenance], entrypoints=False)
    tiny = {"model": "audio-wavenet", "params": {"channels": 8, "skip_channels": 16, "layers": 3, "crop": 400},
            "train": {"epochs": 1, "batch_size": 10}, "sample": {"n": 2, "length": 4800}, "evaluate": {"n_clips": 2},
            "data": {"options": {"voices": 3, "test_voices": 1, "renditions": 1}}}
    kit.run("audio", overrides=tiny, options=_options(tmp_path / "run"))
    real = kit.load_dataset("spoken-digits", split="test", voices=3, test_voices=1, renditions=1)
    (tmp_path / "real").mkdir()
    for i in range(3):
        soundfile.write(tmp_path / "real" / f"real_{i}.wav", real.waveforms[i].numpy(), 16000, subtype="PCM_16")
    wavs = [r for r in detect([tmp_path / "run" / "samples"]) if r["file"].endswith(".wav")]
    assert len(wavs) == 2
    for report in wavs:
        assert report["status"] == "marked" and report["watermark"]["verdict"] == "marked", report
        assert report["c2pa"]["state"] == "untrusted" and report["manifest"]["state"] == "untrusted"
    for report in detect([tmp_path / "real"]):
        assert report["status"] == "unmarked" and report["watermark"]["verdict"] == "unmarked", report
