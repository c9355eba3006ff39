"""``gentoolkit run tabular`` end to end on a tiny config, and a plugin that loads without torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import TINY


def test_the_task_writes_tables_plots_metrics_and_loadable_models(kit, tmp_path):
    from gentoolkit import RuntimeOptions

    models = [{"name": name, "label": name.split("-")[1].upper(), "params": params} for name, params in TINY.items()]
    config = {"dataset": "wine", "epochs": 4, "batch_size": 64, "models": models,
              "imbalance": {"minority": "", "keep": 0.3, "seeds": 2}, "plot_columns": 2}
    result = kit.run("tabular", config=config, options=RuntimeOptions(out=tmp_path / "run", progress=False, threads=1))
    out = result.out_dir
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["models"]) == {"TVAE", "CTGAN"} and metrics["imbalance"]["minority"] == "class_2"
    assert set(metrics["imbalance"]["summary"]) == {"none", "SMOTE", "TVAE", "CTGAN"}
    assert all(len(v["roc_auc"]) == 2 for v in metrics["imbalance"]["scores"].values())
    assert 0 < result.metrics["tvae_quality"] <= 1 and result.metrics["trtr_roc_auc"] > 0.95
    assert (out / "marginals.png").stat().st_size > 10_000
    assert (out / "tvae_samples.csv").read_text().splitlines()[0].endswith(",target")
    model = kit.load_model(out / "ctgan.json")
    assert model.item_spec.classes == ("class_0", "class_1", "class_2")
    assert (out / "imbalance" / "tvae-seed1.json").is_file()


def test_the_task_refuses_an_unknown_minority_class(kit, tmp_path):
    from gentoolkit import ConfigError, RuntimeOptions

    config = {"dataset": "wine", "models": [{"name": "tabular-tvae", "params": TINY["tabular-tvae"]}], "epochs": 1,
              "imbalance": {"minority": "class_9", "keep": 0.5, "seeds": 1}}
    with pytest.raises(ConfigError, match="class_9"):
        kit.run("tabular", config=config, options=RuntimeOptions(out=tmp_path, progress=False))


def test_importing_the_plugin_imports_neither_torch_nor_sklearn():
    code = ("import sys, gentoolkit_tabular; print('torch' in sys.modules, 'sklearn' in sys.modules, "
            "'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]
