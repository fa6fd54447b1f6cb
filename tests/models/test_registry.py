from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from models.registry import ModelRegistry, RegistryError


def _artifacts(tmp_path: Path) -> Path:
    d = tmp_path / "art"
    d.mkdir()
    (d / "model.pt").write_bytes(b"torchscript")
    (d / "vocab.json").write_text(json.dumps(["<pad>", "<basket>", "a"]))
    return d


def _manifest(**kw: Any) -> dict[str, Any]:
    m: dict[str, Any] = {
        "model_name": "sasrec",
        "config": {},
        "input_spec": {"max_len": 5, "max_basket": 2, "store_mode": "none"},
        "feature_versions": {"sequence": "user_hybrid_seq_v1"},
        "train_data_range": {"first_ts_ms": 1, "last_ts_ms": 2},
        "metrics": {"ndcg@10": 0.1},
    }
    m.update(kw)
    return m


def test_register_list_get(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path / "reg")
    assert reg.versions() == [] and reg.champion() is None
    v1 = reg.register(_artifacts(tmp_path), _manifest())
    v2 = reg.register(tmp_path / "art", _manifest(model_name="attnE"))
    assert [v.version for v in reg.versions()] == sorted([v1, v2])
    mv = reg.get(v1)
    assert mv.model_path.read_bytes() == b"torchscript"
    assert mv.vocab() == ["<pad>", "<basket>", "a"]
    assert mv.manifest["version"] == v1 and "created_at" in mv.manifest
    assert not list((tmp_path / "reg" / ".staging").iterdir())


def test_register_rejects_incomplete(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path / "reg")
    with pytest.raises(RegistryError, match="missing keys"):
        reg.register(_artifacts(tmp_path), {"model_name": "x"})
    (tmp_path / "art" / "vocab.json").unlink()
    with pytest.raises(RegistryError, match="vocab.json"):
        reg.register(tmp_path / "art", _manifest())
    with pytest.raises(RegistryError, match="unknown model version"):
        reg.get("nope")


def test_promote_is_atomic_and_champion_follows(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path / "reg")
    art = _artifacts(tmp_path)
    v1, v2 = reg.register(art, _manifest()), reg.register(art, _manifest())
    reg.promote(v1)
    champion = reg.champion()
    assert champion is not None and champion.version == v1
    seen: set[str] = set()
    stop = threading.Event()

    def reader() -> None:  # a concurrent reader never sees a missing or half-written pointer
        while not stop.is_set():
            c = reg.champion()
            assert c is not None
            seen.add(c.version)

    t = threading.Thread(target=reader)
    t.start()
    for _ in range(50):
        reg.promote(v2)
        reg.promote(v1)
    stop.set()
    t.join()
    assert seen <= {v1, v2}
    assert not [p for p in (tmp_path / "reg").iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(RegistryError):
        reg.promote("missing")


def test_record_decision(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path / "reg")
    reg.record_decision({"promote": True, "metric": "ndcg@10"})
    reg.record_decision({"promote": False})
    lines = reg.decisions()
    assert [d["promote"] for d in lines] == [True, False] and "at" in lines[0]


def test_each_family_has_its_own_champion(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path / "reg")
    seq = reg.register(_artifacts(tmp_path), _manifest())
    basket = reg.register(
        tmp_path / "art", _manifest(model_name="parsrec", family="basket", feature_versions={})
    )
    reg.promote(seq)
    reg.promote(basket)
    assert reg.champion().version == seq  # type: ignore[union-attr]
    assert reg.champion("basket").version == basket  # type: ignore[union-attr]
    assert reg.champion_path("basket") == reg.root / "champions" / "basket.json"
    assert [v.version for v in reg.versions("basket")] == [basket]
    assert reg.get(seq).family == "next_item"


def test_family_names_are_checked(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path / "reg")
    with pytest.raises(RegistryError, match="invalid model family"):
        reg.register(_artifacts(tmp_path), _manifest(family="../x"))
    with pytest.raises(RegistryError, match="'sequence'"):
        reg.register(tmp_path / "art", _manifest(feature_versions={}))
