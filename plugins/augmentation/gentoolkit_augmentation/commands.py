"""``gentoolkit augment --data FOLDER|table.csv --out FOLDER``: an augmented copy of an image
folder or of a labelled CSV."""

from __future__ import annotations

from pathlib import Path

import typer


def add_commands(cli) -> None:
    @cli.app.command("augment")
    def augment(
        data: Path = typer.Option(..., "--data", help="Your image folder (one subfolder of PNG/JPEG images per "
                                  "class) or a CSV file with a label column (--label)."),
        out: Path = typer.Option(..., "--out", help="A new folder for the augmented copy (never the input)."),
        model: str = typer.Option("", "--model", "-m", help="A model that samples (gentoolkit models --can sample), "
                                  "made class-conditional on your classes; default image-vae for images, "
                                  "tabular-tvae for a CSV (or tabular-ctgan)."),
        label: str = typer.Option("label", "--label", help="CSV only: the column holding each row's class."),
        ratio: float = typer.Option(1.0, help="Synthetic images written per real image (> 0)."),
        epochs: int = typer.Option(300, help="Generator training epochs."),
        batch_size: int = typer.Option(0, help="Generator batch size (0: 16 images, 100 table rows)."),
        k: int = typer.Option(10, help="Samples drawn per real image before filtering."),
        confidence: float = typer.Option(0.5, help="Keep samples a classifier trained on your images gives their "
                                         "class with at least this probability (0: off)."),
        knn: int = typer.Option(3, help="Keep samples inside the real images' k-NN manifold of their class (0: off)."),
        size: int = typer.Option(0, help="Resize images to SIZE x SIZE first (0: keep their size)."),
        seed: int = typer.Option(0, help="Seed of the generator, its samples and the mixing."),
        device: str = typer.Option("cpu", help="cpu | cuda | cuda:N | mps"),
        force: bool = typer.Option(False, "--force", help="Replace a non-empty --out (the input is never touched)."),
        unlabelled: Path = typer.Option(None, "--unlabelled", help="Images only: a folder of unlabelled images of "
                                        "the same kind. --model (an autoencoder) then trains on them and yours "
                                        "without labels, a Gaussian per class over its codes is fitted with them, "
                                        "and samples inside every real image's k-NN manifold are kept."),
    ) -> None:
        """Copy an image folder (or a CSV) and add filtered samples of a class-conditional generator;
        manifest.csv (the CSV's own extra columns) marks every item real or synthetic, with the model
        and seed that made it."""
        from rich.console import Console

        from gentoolkit_augmentation.folder import AugmentOptions, augment_folder
        from gentoolkit_augmentation.pipeline import AugmentationError
        from gentoolkit_augmentation.tables import augment_table

        table = data.suffix.lower() == ".csv"
        options = AugmentOptions(model=model or ("tabular-tvae" if table else "image-vae"), epochs=epochs,
                                 batch_size=batch_size or (100 if table else 16), k=k, ratio=ratio,
                                 confidence=confidence, knn=knn, size=size, seed=seed, device=device,
                                 unlabelled=unlabelled)
        if table and unlabelled is not None:
            raise AugmentationError(f"--unlabelled {unlabelled}: only an image folder takes unlabelled images; "
                                    "leave it out for a CSV.")
        if table:
            result = augment_table(cli.toolkit, data, out, label, options, force=force)
        else:
            result = augment_folder(cli.toolkit, data, out, options, force=force)
        added = ", ".join(f"{name}: {n}" for name, n in result["synthetic"].items())
        kind = "row" if table else "image"
        Console().print(f"Copied {result['real']} real {kind}(s) and added {sum(result['synthetic'].values())} "
                        f"synthetic ones ({added}) to {out}; provenance in {result['manifest']}. The filter kept "
                        f"{result['kept']} of {result['generated']} samples.")
        if not result["kept"]:
            Console(stderr=True).print("No sample passed the filter: train longer (--epochs), or loosen it "
                                       "(--confidence, --knn 0).", style="yellow")
