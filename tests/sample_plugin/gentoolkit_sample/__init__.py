"""A complete third-party plugin: one model and one task, in the README's twenty lines."""

from gentoolkit import Model, RunResult, Task, hookimpl


def create_gaussian(dim: int = 2):
    """A diagonal Gaussian density with learnable mean and log-std."""
    import torch

    class Gaussian(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mean = torch.nn.Parameter(torch.zeros(dim))
            self.log_std = torch.nn.Parameter(torch.zeros(dim))

        def log_prob(self, x):
            return torch.distributions.Normal(self.mean, self.log_std.exp()).log_prob(x).sum(-1)

    return Gaussian()


def fit(runtime, config):
    import torch

    model = runtime.prepare(create_gaussian(config["dim"]))
    data = torch.randn(512, config["dim"], generator=runtime.generator()) * 2 + 3
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    for _ in range(config["steps"]):
        optimizer.zero_grad()
        loss = -model.log_prob(data.to(runtime.device)).mean()
        loss.backward()
        optimizer.step()
    return RunResult("sample-fit", runtime.out_dir, metrics={"nll": float(loss)})


@hookimpl
def register_models(register):
    register(Model("sample-gaussian", create_gaussian, "Diagonal Gaussian density (sample plugin)"))


@hookimpl
def register_tasks(register):
    register(Task("sample-fit", fit, {"dim": 2, "steps": 200, "lr": 0.05}, "Fit a Gaussian by maximum likelihood"))
