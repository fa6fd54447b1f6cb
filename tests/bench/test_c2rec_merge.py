"""``omniseq bench c2rec merge``: a re-run replaces the same (level, model, seed), more seeds are added."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.c2rec import main


def _run(model: str, seed: int, hr: float) -> dict[str, Any]:
    metrics = {
        "users": 10.0,
        "full_hr@10": hr,
        "full_ndcg@10": hr / 2,
        "sampled_hr@10": hr,
        "sampled_ndcg@10": hr,
    }
    return {
        "level": "article",
        "channel": "online",
        "model": model,
        "seed": seed,
        "seconds": 1.0,
        "all": metrics,
    }


def _doc(command: str, models: list[str], runs: list[dict[str, Any]], attention: str) -> dict[str, Any]:
    meta = {"command": command, "models": {m: m for m in models}, "train_config": {}, "wall_seconds": 1.0}
    # an attention key without "/" (not a level/channel): merge draws no plot for it
    return {"meta": meta, "summary": {}, "attention": {"stats": {}, "probe": attention}, "runs": runs}


def test_merge_replaces_reruns_and_adds_seeds(tmp_path: Path) -> None:
    files = {
        "base": _doc(
            "base", ["sasrec", "c2rec"], [_run("sasrec", 0, 0.2), _run("c2rec", 0, 0.1)], "old c2rec"
        ),
        "fix": _doc("fix", ["c2rec"], [_run("c2rec", 0, 0.3)], "fixed c2rec, seed 0"),
        "s1": _doc("s1", ["sasrec", "c2rec"], [_run("sasrec", 1, 0.4), _run("c2rec", 1, 0.5)], "seed 1"),
    }
    for name, doc in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(doc))
    out = tmp_path / "out.json"
    assert main(["merge", str(out), *(str(tmp_path / f"{n}.json") for n in ("base", "fix", "s1"))]) == 0
    merged = json.loads(out.read_text())
    got = sorted((r["model"], r["seed"], r["all"]["full_hr@10"]) for r in merged["runs"])
    assert got == [("c2rec", 0, 0.3), ("c2rec", 1, 0.5), ("sasrec", 0, 0.2), ("sasrec", 1, 0.4)]
    c2rec = merged["summary"]["article"]["online"]["all"]["c2rec"]["full_hr@10"]
    assert abs(c2rec["mean"] - 0.4) < 1e-9 and c2rec["n"] == 2
    assert merged["meta"]["seeds"] == [0, 1] and merged["meta"]["commands"] == ["base", "fix", "s1"]
    assert merged["attention"]["probe"] == "fixed c2rec, seed 0"  # the first seed's, not seed 1's
    out.write_text(json.dumps(merged))  # merging into a merged file keeps its command history
    assert main(["merge", str(out), str(out), str(tmp_path / "s1.json")]) == 0
    assert json.loads(out.read_text())["meta"]["commands"] == ["base", "fix", "s1", "s1"]
