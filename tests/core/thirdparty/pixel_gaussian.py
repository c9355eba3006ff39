"""A third-party image model family, knowing nothing of the image plugin: a Gaussian per pixel.

It implements the core's contract (Trainable, Sampler, Density) and registers with
``items="image"``, so ``gentoolkit run image --set model=pixel-gaussian`` trains and measures it.
"""

from gentoolkit import ItemSpec, Model, hookimpl


def create(image_shape=(1, 8, 8), classes=(), lr=0.05):
    import math

    import torch

    class PixelGaussian(torch.nn.Module):
        likelihood_kind = "exact"

        def __init__(self):
            super().__init__()
            self.item_spec = ItemSpec("image", tuple(image_shape), (0.0, 1.0))
            self.mean = torch.nn.Parameter(torch.full(tuple(image_shape), 0.5))
            self.log_std = torch.nn.Parameter(torch.zeros(tuple(image_shape)))

        def log_prob(self, x, *, condition=None):
            z = (x.to(self.mean.device) - self.mean) * torch.exp(-self.log_std)
            return (-0.5 * z**2 - self.log_std - 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)

        def sample(self, n, *, condition=None, generator=None):
            noise = torch.randn((n, *self.mean.shape), generator=generator).to(self.mean.device)
            return (self.mean + noise * self.log_std.exp()).clamp(0, 1).detach()

        def configure_optimizers(self):
            return {"adam": torch.optim.Adam(self.parameters(), lr=lr)}

        def training_step(self, batch, optimizers, runtime):
            images, _ = batch
            loss = -self.log_prob(images).mean()
            runtime.optimize(loss, optimizers["adam"])
            return {"loss": loss.item()}

    return PixelGaussian()


@hookimpl
def register_models(register):
    register(Model("pixel-gaussian", create, "A Gaussian per pixel (third-party test family)", "tests",
                   params={"image_shape": [1, 8, 8], "classes": [], "lr": 0.05},
                   capabilities=("sample", "log_prob", "train"), items="image"))


def load_squares(split="train", size=0, path=""):
    """Bright squares at random places on 8x8 (train and test differ by seed), two classes."""
    import torch

    class Squares(torch.utils.data.Dataset):
        item_spec = ItemSpec("image", (1, 8, 8), (0.0, 1.0), classes=("small", "large"))

        def __init__(self, seed):
            g = torch.Generator().manual_seed(seed)
            self.labels = torch.randint(2, (128,), generator=g)
            self.images = torch.zeros(128, 1, 8, 8)
            for i, label in enumerate(self.labels.tolist()):
                side = 2 + 2 * label
                r, c = torch.randint(0, 9 - side, (2,), generator=g).tolist()
                self.images[i, 0, r:r + side, c:c + side] = 1.0

        def __len__(self):
            return len(self.images)

        def __getitem__(self, i):
            return self.images[i], self.labels[i]

    return Squares(0 if split == "train" else 1)


@hookimpl
def register_datasets(register):
    from gentoolkit import Dataset

    register(Dataset("squares", load_squares, "Squares on 8x8 (third-party test dataset)", "tests", items="image"))
