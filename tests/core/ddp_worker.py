"""Run under torchrun by test_core_distributed.py: trains a small model with DDP on gloo."""

import json
import sys
from pathlib import Path

import torch

from gentoolkit.runtime import Runtime, RuntimeOptions

report_dir = Path(sys.argv[1])
with Runtime(RuntimeOptions(device="cpu", seed=0, out=report_dir / "run", progress=False), task="ddp") as runtime:
    torch.manual_seed(0)  # same initial weights on every rank before DDP broadcasts them anyway
    model = runtime.prepare(torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)))
    data = torch.utils.data.TensorDataset(torch.arange(64).float().unsqueeze(1).repeat(1, 4) / 64, torch.arange(64))
    loader = runtime.dataloader(data, batch_size=8)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    seen, losses = [], []
    for epoch in range(3):
        runtime.set_epoch(loader, epoch)
        for x, index in loader:
            optimizer.zero_grad()
            loss = (model(x).squeeze(1) - x.sum(1)).pow(2).mean()
            loss.backward()
            optimizer.step()
            seen += index.tolist() if epoch == 0 else []
            losses.append(runtime.all_reduce_mean(loss.item()))
    runtime.save_checkpoint("final", {"model": runtime.unwrap(model).state_dict()}, {"world_size": runtime.world_size})
    weights = [p.detach().flatten().tolist() for p in model.parameters()]
    (report_dir / f"rank{runtime.rank}.json").write_text(json.dumps(
        {"weights": weights, "seen": seen, "out_dir": str(runtime.out_dir), "losses": losses,
         "world_size": runtime.world_size}))
assert not torch.distributed.is_initialized(), "the runtime leaves the process group it made"
