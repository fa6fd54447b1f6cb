"""Generated journeys feed the product: their receipts pass the pipeline's landing validation as in-store drops;
``omniseq journeys train | generate | whatif`` end to end on a tiny scale."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from cli.main import main
from models.journey_sample import GeneratedJourney, _journey
from omniseq.data.journey_encoding import BUY
from omniseq.data.sim.store_layout import encode_cell
from omniseq.data.sim.store_plans import store
from omniseq.schema import table_to_transactions
from pipeline.landing import LandingValidator
from pipeline.producer import write_drop


def _validate(tmp: Path, landing: Path) -> tuple[list[tuple[Path, str | None]], list[Path]]:
    v = LandingValidator(landing, tmp / "accepted", tmp / "quarantine", tmp / "pipeline", settle_s=0)
    return v.scan(), sorted((tmp / "accepted").glob("*.parquet"))


def test_generated_basket_is_accepted_as_an_in_store_drop(tmp_path: Path) -> None:
    lay = store("B")
    zone = lay.zones[4]
    words = [encode_cell(lay.entrance), encode_cell(zone.faces[0]), BUY, encode_cell(lay.checkouts[0])]
    j: GeneratedJourney = _journey(
        lay, words, {zone.name: ["4711"]}, np.random.default_rng(0), "gen-B-0-0", 1_767_225_600_000
    )
    assert j.purchases == [{"point": 1, "zone": 4, "category": zone.name, "item": "4711"}]
    assert j.receipt is not None
    write_drop([j.receipt], tmp_path / "landing", "journeys-B-test")
    done, accepted = _validate(tmp_path, tmp_path / "landing")
    assert [reason for _, reason in done] == [None] and len(accepted) == 1
    (txn,) = list(table_to_transactions(pq.read_table(accepted[0])))
    assert txn.items == ("4711",) and txn.store_id == "store-B" and txn.user_id == "gen-gen-B-0-0"


def test_train_generate_and_whatif_commands(tmp_path: Path) -> None:
    reg = str(tmp_path / "registry")
    train = ["journeys", "train", "--n-a", "30", "--n-b", "10", "--steps", "15", "--d", "32", "--layers", "1"]
    assert main([*train, "--source", "simulator", "--registry", reg]) == 0
    out, landing = tmp_path / "out", tmp_path / "landing"
    gen = ["journeys", "generate", "--store", "B", "--n", "12", "--registry", reg]
    assert main([*gen, "--out", str(out), "--landing", str(landing)]) == 0
    (jsonl,) = out.glob("journeys-B-0-*.jsonl")
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(rows) == 12 and all(r["store_id"] == "B" and len(r["codes"]) >= 7 for r in rows)
    bought = sum(1 for r in rows if r["receipt_items"])
    drops = list(landing.glob("*.parquet"))
    assert len(drops) == (1 if bought else 0)
    if drops:
        done, accepted = _validate(tmp_path, landing)
        assert [reason for _, reason in done] == [None]
        assert sum(len(t.items) > 0 for t in table_to_transactions(pq.read_table(accepted[0]))) == bought
    assert main(["journeys", "generate", "--store", "B", "--n", "0", "--registry", reg]) == 2
    assert main(["journeys", "generate", "--store", "A", "--registry", str(tmp_path / "none")]) == 2
    png = tmp_path / "whatif.png"
    assert main(["journeys", "whatif", "--swap", "drinks", "snacks", "--n", "15", "--png", str(png)]) == 0
    report = json.loads(png.with_suffix(".json").read_text())
    assert png.stat().st_size > 0 and report["swap"] == ["drinks", "snacks"]
    assert 0.0 <= report["js_visits_as_is_vs_moved"] <= 1.0
