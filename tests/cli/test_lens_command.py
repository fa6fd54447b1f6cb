"""``omniseq lens train|anomalies|oos-alerts`` end to end on a tiny Dunnhumby-format file."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli.main import main
from models.registry import ModelRegistry

pytestmark = pytest.mark.slow


def _write_dunnhumby(root: Path) -> None:
    rows: dict[str, list[object]] = {c: [] for c in ("household_id", "store_id", "basket_id", "product_id", "quantity",
                                                     "sales_value", "transaction_timestamp")}  # fmt: skip
    basket = 0
    for hh in range(12):
        for k in range(4):
            basket += 1
            for p in (hh % 3, 3 + k % 2, 10 + hh):
                rows["household_id"].append(hh)
                rows["store_id"].append(1 + hh % 2)
                rows["basket_id"].append(basket)
                rows["product_id"].append(p)
                rows["quantity"].append(1 + p % 2)
                rows["sales_value"].append(2.5)
                rows["transaction_timestamp"].append(1_483_228_800_000 + (k * 7 + hh % 3) * 86_400_000)
    table = pa.table(rows).set_column(
        6, "transaction_timestamp", pa.array(rows["transaction_timestamp"], pa.timestamp("ms"))
    )
    folder = root / "dunnhumby_completejourney_2017"
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "transactions.parquet")


def test_train_then_batch_jobs_write_the_offline_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_dunnhumby(tmp_path / "data")
    common = ["--data", "dunnhumby", "--data-root", str(tmp_path / "data"), "--registry", str(tmp_path / "reg"),
              "--offline", str(tmp_path / "offline"), "--report", str(tmp_path / "report")]  # fmt: skip
    assert main(["lens", "train", *common, "--epochs", "1", "--promote"]) == 0
    champion = ModelRegistry(tmp_path / "reg").champion("next_basket")
    assert champion is not None and champion.manifest["family"] == "next_basket"
    assert main(["lens", "anomalies", *common, "--clusters", "2"]) == 0
    table = pq.read_table(next((tmp_path / "offline" / "lens_anomalies_v1").rglob("part-*.parquet")))
    assert table.num_rows == 12 and {"user_id", "cluster", "score", "is_anomaly", "event_timestamp"} <= set(
        table.column_names
    )
    summary = json.loads((tmp_path / "report" / "lens_anomalies.summary.json").read_text())
    assert summary["customers"] == 12 and (tmp_path / "report" / "lens_anomalies.png").exists()
    schedule = tmp_path / "resupply.csv"
    schedule.write_text("store_id,item_id,day,units\n")  # nothing is resupplied: every predicted cell alerts
    assert main(["lens", "oos-alerts", *common, "--days", "60", "--resupply", str(schedule)]) == 0
    oos = json.loads((tmp_path / "report" / "lens_oos_alerts.summary.json").read_text())
    alerts = pq.read_table(next((tmp_path / "offline" / "lens_oos_alerts_v1").rglob("part-*.parquet")))
    assert oos["alerts"] == alerts.num_rows
    assert all(r < 0 for r in alerts.column("residual").to_pylist())
    assert oos["customers_in_horizon"] == 0 or alerts.num_rows > 0
