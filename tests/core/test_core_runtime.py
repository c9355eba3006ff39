"""Seeding, precision, devices and checkpoints of the shared runtime."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch

from gentoolkit import CheckpointError, GentoolkitError
from gentoolkit.checkpoint import check_compatible, load_checkpoint, read_metadata, save_checkpoint
from gentoolkit.runtime import Runtime, RuntimeOptions


def _train(seed: int, tmp_path) -> torch.Tensor:
    runtime = Runtime(RuntimeOptions(device="cpu", seed=seed, out=tmp_path, progress=False)).start()
    model = runtime.prepare(torch.nn.Linear(4, 1))
    data = torch.utils.data.TensorDataset(torch.randn(64, 4), torch.randn(64, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in runtime.dataloader(data, batch_size=8):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    return model.weight.detach().clone()


def test_seeded_runs_reproduce_and_seeds_matter(tmp_path):
    assert torch.equal(_train(1, tmp_path), _train(1, tmp_path))
    assert not torch.equal(_train(1, tmp_path), _train(2, tmp_path))


def test_device_and_precision_choices():
    runtime = Runtime(RuntimeOptions(device="cpu", precision="bf16"))
    assert runtime.device.type == "cpu"
    with runtime.autocast():
        out = torch.nn.Linear(8, 8)(torch.randn(2, 8))
    assert out.dtype == torch.bfloat16
    with pytest.raises(GentoolkitError, match="Unknown precision"):
        RuntimeOptions(precision="fp8")
    if not torch.cuda.is_available():
        with pytest.raises(GentoolkitError, match="CUDA is not available"):
            Runtime(RuntimeOptions(device="cuda")).device
        assert Runtime(RuntimeOptions(device="auto")).device.type == "cpu"


def test_cpu_threads_default_to_physical_cores_and_follow_the_flag(monkeypatch):
    from gentoolkit.runtime import default_threads

    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert default_threads() == 8
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert default_threads() == 2
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert default_threads() == 1
    before = torch.get_num_threads()
    try:
        Runtime(RuntimeOptions(threads=3)).start()
        assert torch.get_num_threads() == 3
        Runtime(RuntimeOptions()).start()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_out_dir_defaults_to_runs_task_timestamp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runtime = Runtime(RuntimeOptions(), task="demo")
    out = runtime.out_dir
    assert out.is_absolute() and out.parent == tmp_path / "runs" / "demo" and out.is_dir()
    runtime.save_checkpoint(str(out / "state"), {"x": torch.zeros(1)})  # a path built from out_dir
    assert (out / "state.json").exists() and not (out / "runs").exists()


def test_checkpoint_round_trip_with_optimizer_state(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": 7, "history": [0.5, 0.25]}
    save_checkpoint(tmp_path / "ckpt", state, {"model": "mlp", "shape": [3, 2]})
    loaded, meta = load_checkpoint(tmp_path / "ckpt.json")
    assert meta == {"model": "mlp", "shape": [3, 2]} and read_metadata(tmp_path / "ckpt") == meta
    assert loaded["step"] == 7 and loaded["history"] == [0.5, 0.25]
    fresh = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    fresh.load_state_dict(loaded["model"])
    fresh_opt = torch.optim.Adam(fresh.parameters())
    fresh_opt.load_state_dict(loaded["optimizer"])
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), fresh.parameters()))
    assert fresh_opt.state_dict()["state"][0]["step"] == optimizer.state_dict()["state"][0]["step"]


def test_corrupt_truncated_and_missing_checkpoints_give_clear_errors(tmp_path):
    save_checkpoint(tmp_path / "ckpt", {"w": torch.ones(1000)}, {})
    tensors = tmp_path / "ckpt.safetensors"
    tensors.write_bytes(tensors.read_bytes()[:200])  # truncated
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(tmp_path / "ckpt")
    (tmp_path / "ckpt.json").write_text('{"format": "gentoolkit-checkp')
    with pytest.raises(CheckpointError, match="ckpt.json is corrupt or truncated"):
        load_checkpoint(tmp_path / "ckpt")
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(CheckpointError, match="not a gentoolkit checkpoint"):
        load_checkpoint(tmp_path / "other")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nothing")


def test_checkpoint_of_another_model_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="made for another model.*model: checkpoint has 'vae'"):
        check_compatible({"model": "vae", "size": 8}, {"model": "gan", "size": 8}, tmp_path / "c")


def test_only_complete_checkpoints_count_for_resume(tmp_path):
    runtime = Runtime(RuntimeOptions(out=tmp_path, progress=False))
    assert runtime.latest_checkpoint("state") is None
    runtime.save_checkpoint("state", {"x": torch.zeros(2)}, {"step": 1})
    assert runtime.latest_checkpoint("state") == tmp_path / "state.json"
    assert not list(tmp_path.glob(".*tmp*")), "temporary files must be moved into place"


# Saves step 1, then dies inside the save of step 2 right after the tensor file is replaced.
_KILLED_MID_SAVE = textwrap.dedent("""
    import os, sys
    import torch
    from gentoolkit.checkpoint import save_checkpoint

    save_checkpoint(sys.argv[1], {"w": torch.full((3,), 1.0)}, {"step": 1})
    replace = os.replace
    def replace_then_die(src, dst):
        replace(src, dst)
        if os.path.basename(dst) == "state.safetensors":
            os._exit(9)
    os.replace = replace_then_die
    save_checkpoint(sys.argv[1], {"w": torch.full((3,), 2.0)}, {"step": 2})
""")


def test_a_kill_between_the_two_files_never_pairs_new_tensors_with_old_metadata(tmp_path):
    done = subprocess.run([sys.executable, "-c", _KILLED_MID_SAVE, str(tmp_path / "state")], timeout=120)
    assert done.returncode == 9  # killed after step 2's tensors replaced step 1's, before its JSON
    runtime = Runtime(RuntimeOptions(out=tmp_path, progress=False))
    with pytest.warns(UserWarning, match="come from different saves.*previous complete checkpoint"):
        latest = runtime.latest_checkpoint("state")
    assert latest == tmp_path / "state.prev.json"  # step 1's pair, kept until step 2's is complete
    state, meta = runtime.load_checkpoint(latest)
    assert meta == {"step": 1} and torch.equal(state["w"], torch.full((3,), 1.0))
    with pytest.warns(UserWarning, match="previous complete checkpoint"):
        state, meta = load_checkpoint(tmp_path / "state")
    assert meta == {"step": 1} and torch.equal(state["w"], torch.full((3,), 1.0))

    # The next save completes and leaves one matching pair; the previous one is gone.
    runtime.save_checkpoint("state", {"w": torch.full((3,), 3.0)}, {"step": 3})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.safetensors"]
    assert load_checkpoint(tmp_path / "state")[1] == {"step": 3}

    # Without a previous pair to fall back to, the mismatch is refused, naming both files.
    subprocess.run([sys.executable, "-c", _KILLED_MID_SAVE, str(tmp_path / "state")], timeout=120)
    for path in tmp_path.glob("state.prev.*"):
        path.unlink()
    for read in (load_checkpoint, read_metadata, lambda p: runtime.latest_checkpoint(p.name)):
        with pytest.raises(CheckpointError, match=r"state\.safetensors and .*state\.json come from different "
                                                  r"saves.*Delete or move both"):
            read(tmp_path / "state")


def test_checkpoints_written_before_pairing_still_load(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.ones(2)}, str(tmp_path / "old.safetensors"))  # no metadata, as before
    (tmp_path / "old.json").write_text(json.dumps({"format": "gentoolkit-checkpoint/1", "metadata": {"step": 4},
                                                   "state": {"__dict__": [["w", {"__tensor__": "w"}]]}}))
    state, meta = load_checkpoint(tmp_path / "old")
    assert meta == {"step": 4} and torch.equal(state["w"], torch.ones(2))
    assert Runtime(RuntimeOptions(out=tmp_path, progress=False)).latest_checkpoint("old") == tmp_path / "old.json"


def test_close_leaves_a_process_group_the_caller_made(tmp_path, monkeypatch):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        monkeypatch.setenv("WORLD_SIZE", "2")  # what the runtime reads: it believes it is distributed
        with Runtime(RuntimeOptions(device="cpu", out=tmp_path / "run", progress=False)) as runtime:
            assert runtime.distributed
        assert dist.is_initialized(), "the caller's process group must outlive the runtime"
        total = torch.ones(1)
        dist.all_reduce(total)  # and still work
        assert total.item() == 1
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_bf16_training_step():
    runtime = Runtime(RuntimeOptions(device="auto", precision="bf16")).start()
    assert runtime.device.type == "cuda"
    model = runtime.prepare(torch.nn.Linear(16, 16))
    with runtime.autocast():
        loss = model(torch.randn(8, 16, device=runtime.device)).float().pow(2).mean()
    loss.backward()
    assert model.weight.grad is not None and model.weight.grad.device.type == "cuda"


def test_a_pickle_given_as_checkpoint_is_named_and_never_unpickled(tmp_path, monkeypatch):
    import pickle

    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("never unpickle"))
    torch.save({"w": torch.ones(2)}, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="model.pt is a PyTorch file \\(torch.save.*never unpickles"):
        load_checkpoint(tmp_path / "model.pt")
    (tmp_path / "state.json").write_bytes(pickle.dumps({"w": 1}, protocol=4))  # a pickle under a .json name
    with pytest.raises(CheckpointError, match="state.json is a Python pickle \\(protocol 4\\)"):
        read_metadata(tmp_path / "state")


def test_a_folder_given_as_config_and_every_bad_key_named_with_the_file(tmp_path):
    from gentoolkit.config import resolve
    from gentoolkit.errors import ConfigError

    with pytest.raises(ConfigError, match="is a folder; give the path of a .toml file"):
        resolve({"a": 1}, tmp_path)
    path = tmp_path / "bad.toml"
    path.write_text('stpes = 3\nlr = "fast"\n[model]\nlayers = 2\nhiden = 4\n')
    defaults = {"steps": 1, "lr": 0.1, "model": {"layers": 1, "hidden": 8}}
    with pytest.raises(ConfigError) as err:
        resolve(defaults, path, ranges={"model": {"layers": ">= 3"}})
    message = str(err.value)
    assert message.startswith(f"In config file {path}: 4 problems:")
    for part in ("'stpes'", "'lr' must be float", "'model.hiden'", "'model.layers' must be >= 3, got 2"):
        assert part in message
