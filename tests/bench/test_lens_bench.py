"""``omniseq bench lens`` end to end on tiny files in the real formats, and the README renderer on its output."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.lens import main
from scripts.readme_lens import render_lens

pytestmark = pytest.mark.slow


def _tafeng(root: Path) -> None:
    rng = random.Random(0)
    hist, fut = {}, {}
    for u in range(30):
        own = [u % 5, 5 + u % 3]
        baskets = [sorted(set(own + rng.sample(range(10, 40), 2))) for _ in range(3 + u % 3)]
        hist[str(u)] = [[-1], *baskets, [-1]]
        fut[str(u)] = [[-1], sorted(set(own + [rng.randrange(10, 40)])), [-1]]
    folder = root / "tafeng_nbr_reality_check"
    folder.mkdir(parents=True)
    (folder / "tafeng_history.json").write_text(json.dumps(hist))
    (folder / "tafeng_future.json").write_text(json.dumps(fut))


def _dunnhumby(root: Path) -> None:
    cols: dict[str, list[object]] = {c: [] for c in ("household_id", "store_id", "basket_id", "product_id",
                                                     "quantity", "sales_value")}  # fmt: skip
    stamps: list[int] = []
    basket = 0
    for hh in range(10):
        for k in range(5):
            basket += 1
            for p in (hh % 4, 4 + k % 2):
                for c, v in zip(cols, (hh, 1, basket, p, 1, 1.5), strict=True):
                    cols[c].append(v)
                stamps.append(1_483_228_800_000 + k * (2 + hh % 3) * 86_400_000)
    table = pa.table({**cols, "transaction_timestamp": pa.array(stamps, pa.timestamp("ms"))})
    (root / "dunnhumby_completejourney_2017").mkdir(parents=True)
    pq.write_table(table, root / "dunnhumby_completejourney_2017" / "transactions.parquet")


def test_bench_lens_writes_both_tables(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    _tafeng(data)
    _dunnhumby(data)
    argv = ["--data", str(data), "--out", str(out), "--seeds", "0", "--epochs", "1", "--dunnhumby-epochs", "1",
            "--max-items", "50"]  # fmt: skip
    assert main(argv) == 0
    tf = json.loads((out / "lens_tafeng.json").read_text())
    assert set(tf["summary"]) == {
        "LENS1000 (paper)",
        "LENS1000 (rc)",
        "G-TopFreq",
        "P-TopFreq",
        "GP-TopFreq",
        "TIFU-KNN",
    }
    run = tf["runs"][0]
    assert run["test_users"] == 9 and run["lens_rc"]["mean_pred_size"] == 10.0
    for row in tf["summary"].values():
        assert all(0.0 <= row[m]["mean"] <= 1.0 for m in ("recall", "precision", "phr", "ndcg"))
    # the two items of a customer's every basket are P-TopFreq's top 2 and 2 of at most 3 repeat items of the future
    assert tf["summary"]["P-TopFreq"]["recall_repeat"]["mean"] >= 2 / 3 - 1e-9
    dh = json.loads((out / "lens_dunnhumby.json").read_text())
    assert set(dh["summary"]["mae_days"]) == {"LENS", "per-customer median", "global median"}
    assert (out / "lens.png").exists()
    text = render_lens(out)
    assert "| TIFU-KNN |" in text and "| per-customer median |" in text and "paper: LENS2000" in text
