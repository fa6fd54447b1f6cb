"""``omniseq bench train`` pieces: the in-run baseline model and the benchmark itself on a tiny ``user item`` file."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from bench.reference_sasrec import ReferenceSASRec
from bench.train import PeakRSS, main
from models.base import ModelConfig
from models.data import trim_leading_padding

V = 30


def _config() -> ModelConfig:
    return ModelConfig(name="reference", n_items=V, hidden=16, blocks=1, max_len=8, dropout=0.0)


def _batch() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(2, V, (6, 9), generator=g)
    tokens[:, :3] = 0
    return {"tokens": tokens, "baskets": torch.zeros(6, 9, 2, dtype=torch.int64), "online": tokens >= 2}


def test_reference_sasrec_learns_a_fixed_batch() -> None:
    torch.manual_seed(0)
    model = ReferenceSASRec(_config()).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        torch.manual_seed(1)  # the same negatives each step
        loss = model.loss(_batch())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]


def test_reference_sasrec_scores_ignore_trimmed_padding() -> None:
    model = ReferenceSASRec(_config()).eval()
    b = _batch()
    tokens, baskets = b["tokens"][:, 1:], b["baskets"][:, 1:]
    short = trim_leading_padding({"tokens": tokens, "baskets": baskets}, keep=1)
    full = model.score_all(tokens, baskets)
    assert full.shape == (6, V) and bool(torch.isinf(full[:, :2]).all())
    assert torch.allclose(full, model.score_all(short["tokens"], short["baskets"]), atol=1e-5)


def test_peak_rss_sees_an_allocation() -> None:
    with PeakRSS() as mem:
        block = bytearray(64 * 2**20)
        block[::4096] = b"x" * len(block[::4096])
    assert mem.peak >= PeakRSS.rss() - 2**20 and mem.peak > 64 * 2**20


@pytest.mark.slow
def test_bench_train_runs_end_to_end_on_a_user_item_file(tmp_path: Path) -> None:
    rng = random.Random(0)
    lines = [f"u{u} i{rng.randrange(150)}" for u in range(60) for _ in range(rng.randrange(4, 12))]
    data = tmp_path / "tiny.txt"
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "train.json"
    args = ["--dataset", f"user-item:{data}", "--epochs", "1", "--negatives", "8", "--no-progress"]
    assert main([*args, "--runs", "reference,sasrec", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [r["run"] for r in report["runs"]] == ["reference", "sasrec"]
    assert report["runs"][0]["speed_vs_reference"] == 1.0
    for r in report["runs"]:
        assert r["sequences_per_s"] > 0 and r["peak_rss_mib"] > 0 and 0.0 <= r["full_hr@10"] <= 1.0
    assert out.with_suffix(".png").stat().st_size > 0
    with pytest.raises(SystemExit):
        main([*args, "--runs", "sasrec", "--out", str(out)])  # the baseline must come first
