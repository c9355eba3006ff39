"""The benchmarks' honesty helpers: caches keyed by the producing code, provenance per row, equal GAN steps."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
from report import ResultCache, code_digest, provenance  # noqa: E402


def test_a_change_to_the_producing_code_empties_the_cache(tmp_path):
    source = tmp_path / "plugin"
    source.mkdir()
    (source / "rl.py").write_text("SIGMA = 128\n")
    before = code_digest(source)
    cache = ResultCache(tmp_path / "cache", before)
    cache.put("qed-s0", {"auc_top10": 0.9})
    entry = ResultCache(tmp_path / "cache", code_digest(source)).get("qed-s0")
    assert entry["cached"] and entry["result"] == {"auc_top10": 0.9} and entry["measured_at"]

    (source / "rl.py").write_text("SIGMA = 500\n")
    assert code_digest(source) != before
    assert ResultCache(tmp_path / "cache", code_digest(source)).get("qed-s0") is None


def test_code_digest_hashes_an_installed_package_where_it_is_imported_from():
    import gentoolkit

    assert code_digest("gentoolkit") == code_digest(Path(gentoolkit.__file__).parent)


def test_provenance_names_cached_rows_and_when_they_were_measured():
    fresh = {"cached": False, "measured_at": "2026-11-24T13:00"}
    old = {"cached": True, "measured_at": "2026-11-20T09:15"}
    older = {"cached": True, "measured_at": "2026-11-19T08:00"}
    assert provenance([fresh, fresh]) == "fresh"
    assert provenance([fresh, old]) == "cache (1/2), measured 2026-11-20 09:15"
    assert provenance([old, older]) == "cache (2/2), measured 2026-11-19 08:00 to 2026-11-20 09:15"


def test_gans_are_compared_at_equal_generator_steps():
    pytest.importorskip("gentoolkit_image")
    from image_models import generator_epochs

    assert generator_epochs("gan", {"loss": "ns"}, 60) == 60
    assert generator_epochs("gan", {"loss": "wgan-gp"}, 60) == 300  # the critic steps 5 times per generator step
    assert generator_epochs("gan", {"loss": "wgan-gp", "n_critic": 2}, 60) == 120
    assert generator_epochs("vae", {}, 60) == 60
