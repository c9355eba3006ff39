"""Two CPU processes (gloo) train as production does, each rank seeded differently: the core
loop starts them from rank 0's weights, averages gradients, agrees on ActNorm's data-dependent
initialisation and BatchNorm statistics, so both ranks end with the same model."""

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

FAMILIES = {"image-vae": {"latent_dim": 4, "width": 8}, "image-glow": {"num_scales": 1, "steps_per_scale": 2,
                                                                      "hidden_channels": 8, "levels": 17}}


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update(WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    import gentoolkit_image
    from gentoolkit import Toolkit
    from gentoolkit.runtime import Runtime, RuntimeOptions
    from gentoolkit.training import fit
    from gentoolkit_image.data import load_digits

    kit = Toolkit(plugins=[gentoolkit_image], entrypoints=False)
    runtime = Runtime(RuntimeOptions(device="cpu", seed=0, out=out, progress=False), toolkit=kit).start()
    data = load_digits("train")
    lines = []
    for name, params in FAMILIES.items():
        model = kit.create_model(name, image_shape=[1, 8, 8], **params)  # seeded seed + rank: different weights
        fit(model, data.subset(torch.arange(256)), runtime, epochs=2, batch_size=32, name=name)
        flat = torch.cat([t.detach().float().flatten() for t in [*model.parameters(), *model.buffers()]])
        gathered = [torch.empty_like(flat) for _ in range(2)]
        torch.distributed.all_gather(gathered, flat)
        saved = kit.load_model(os.path.join(out, f"{name}.json"))
        saved_flat = torch.cat([t.detach().float().flatten() for t in [*saved.parameters(), *saved.buffers()]])
        lines.append(f"{name} {torch.equal(gathered[0], gathered[1])} {torch.equal(saved_flat, flat)}")
    if rank == 0:
        with open(os.path.join(out, "result.txt"), "w") as f:
            f.write("\n".join(lines))
    runtime.close()


@pytest.mark.slow  # two processes importing torch
def test_ranks_seeded_differently_end_with_one_model(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_worker, args=(port, str(tmp_path)), nprocs=2, join=True)
    assert (tmp_path / "result.txt").read_text().splitlines() == [f"{name} True True" for name in FAMILIES]
