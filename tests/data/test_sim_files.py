"""``omniseq generate`` output: schema, chunking invariance, manifest, reading back, commands."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cli.main import main
from omniseq.data import SimulatedUsers, SimulatorConfig, load, read_manifest, write_dataset
from omniseq.schema import ONLINE_EVENT_SCHEMA, STORE_TXN_SCHEMA

CFG = SimulatorConfig(seed=21, n_categories=12, items_per_category=30)


def _read(out: Path, sub: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name in read_manifest(out)["parts"]:
        rows.extend(pq.read_table(out / sub / name).to_pylist())
    return rows


def test_chunking_does_not_change_output(tmp_path: Path) -> None:
    a = write_dataset(CFG, 50, tmp_path / "a", chunk_users=7, progress=False)
    b = write_dataset(CFG, 50, tmp_path / "b", chunk_users=50, progress=False)
    assert len(a["parts"]) == 8 and len(b["parts"]) == 1
    assert a["counts"] == b["counts"]
    for sub in ("online", "instore"):
        assert _read(tmp_path / "a", sub) == _read(tmp_path / "b", sub)


def test_files_use_the_schema_and_read_back(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    manifest = write_dataset(CFG, 30, out, chunk_users=10, progress=False)
    assert pq.read_schema(out / "online" / "part-00000.parquet").equals(ONLINE_EVENT_SCHEMA)
    assert pq.read_schema(out / "instore" / "part-00000.parquet").equals(STORE_TXN_SCHEMA)
    assert manifest["config"]["seed"] == 21 and json.loads((out / "manifest.json").read_text()) == manifest
    files = load(f"sim:{out}").summary()
    assert files.online_events == manifest["counts"]["online_events"]
    assert files.store_transactions == manifest["counts"]["store_transactions"]
    assert files.users == 30
    # the files hold exactly what the in-memory simulator yields
    memory = SimulatedUsers(CFG, users=30).summary()
    assert memory.to_dict() | {"name": ""} == files.to_dict() | {"name": ""}
    assert load("simulator", users=4, seed=21).summary().users == 4


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    write_dataset(CFG, 5, tmp_path, progress=False)
    with pytest.raises(FileExistsError, match="overwrite"):
        write_dataset(CFG, 5, tmp_path, progress=False)
    manifest = write_dataset(CFG, 3, tmp_path, chunk_users=1, overwrite=True, progress=False)
    assert sorted(p.name for p in (tmp_path / "online").iterdir()) == manifest["parts"]
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        load(f"sim:{tmp_path / 'missing'}")


def test_generate_and_data_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "sim.yaml"
    cfg.write_text("n_categories: 12\nitems_per_category: 30\n")
    out = tmp_path / "out"
    assert (
        main(
            ["generate", "--users", "20", "--out", str(out), "--seed", "21", "--config", str(cfg), "--quiet"]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed["counts"]["users"] == 20
    assert read_manifest(out)["config"]["seed"] == 21
    assert main(["data", "--dataset", f"sim:{out}", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["online_events"] == printed["counts"]["online_events"]
    assert main(["data", "--dataset", "simulator", "--users", "5"]) == 0
    assert "users with both channels" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="only to --dataset simulator"):
        main(["data", "--dataset", "hm", "--users", "5"])


def test_generate_reports_bad_input(tmp_path: Path) -> None:
    cfg = tmp_path / "sim.yaml"
    cfg.write_text("store_boost: 1\n")
    with pytest.raises(SystemExit, match="store_boost"):
        main(["generate", "--users", "2", "--out", str(tmp_path / "o"), "--config", str(cfg), "--quiet"])
    with pytest.raises(SystemExit, match="n_users"):
        main(["generate", "--users", "0", "--out", str(tmp_path / "o"), "--quiet"])
