"""``omniseq bench parsrec`` end to end on a few simulated users: table, Fig. 3 PNG, registration, README rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.parsrec import main
from models.registry import ModelRegistry
from scripts.render_readme import _parsrec

pytestmark = pytest.mark.slow


def test_bench_parsrec_tiny(tmp_path: Path) -> None:
    out = tmp_path / "parsrec.json"
    argv = ["--users", "6", "--epochs", "1", "--seeds", "0", "--models", "popularity,sasrec,parsrec", "--dim", "16",
            "--baseline-dim", "16", "--max-len", "20", "--threads", "1", "--out", str(out),
            "--register", str(tmp_path / "reg"), "--promote"]  # fmt: skip
    assert main(argv) == 0
    d = json.loads(out.read_text())
    assert d["data"]["users"] == 6 and d["data"]["items"] > 0
    assert set(d["table"]) == {"popularity", "sasrec", "parsrec"}
    for model in d["table"].values():
        assert 0.0 <= model["hr@1"]["mean"] <= model["hr@5"]["mean"] <= model["hr@10"]["mean"] <= 1.0
    assert d["runs"]["parsrec"][0]["test"]["baskets"] == 6
    assert (tmp_path / "parsrec.png").stat().st_size > 0
    assert set(d["figure"]["pearson_offdiag_sigma_vs_attention"]) >= {"group_0", "group_1"}
    champion = ModelRegistry(tmp_path / "reg").champion("basket")
    assert champion is not None and champion.version == d["runs"]["parsrec"][0]["registered"]
    rows = _parsrec(d, "parsrec")
    assert any(r.startswith("| PARSRec |") for r in rows) and any("0.5825" in r for r in rows)
