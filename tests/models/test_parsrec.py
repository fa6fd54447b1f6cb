from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from models.basket_data import BasketData, collate, from_baskets, size_batches
from models.basket_eval import basket_metrics, evaluate_baskets
from models.export import export_torchscript, load_torchscript
from models.parsrec import SOB, PARSRec, PARSRecConfig

V, U = 30, 5


def tiny(**kw: object) -> PARSRec:
    base: dict[str, object] = {"n_items": V, "n_users": U, "dim": 16, "heads": 2, "dropout": 0.0}
    base.update(kw)
    torch.manual_seed(0)
    return PARSRec(PARSRecConfig(**base)).eval()  # type: ignore[arg-type]


def batch(b: int = 4, n: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    basket = torch.stack([torch.randperm(V - 2, generator=g)[:n] + 2 for _ in range(b)])
    history = torch.randint(2, V, (b, 7), generator=g)
    history[:, :2] = 0
    return {"users": torch.arange(b) % U, "history": history, "basket": basket}


def test_config_rejects_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ValueError, match="unknown keys"):
        PARSRecConfig.from_dict({"n_items": V, "n_users": U, "bogus": 1})
    with pytest.raises(ValueError, match="history_pool"):
        PARSRecConfig(n_items=V, n_users=U, history_pool="max")
    cfg = PARSRecConfig(n_items=V, n_users=U, heads=4)
    assert PARSRecConfig.from_dict(cfg.to_dict()) == cfg


def test_one_training_step_lowers_the_loss() -> None:
    model = tiny().train()
    b = batch(b=8, n=3)
    dense, sparse = model.dense_and_sparse()
    opt, sopt = torch.optim.Adam(dense, lr=1e-2), torch.optim.SparseAdam(sparse, lr=1e-2)
    torch.manual_seed(1)
    before = model.loss(b)
    opt.zero_grad()
    sopt.zero_grad()
    before.backward()
    opt.step()
    sopt.step()
    torch.manual_seed(1)
    after = model.loss(b)
    assert float(after.detach()) < float(before.detach())


def test_teacher_forcing_never_feeds_a_future_item() -> None:
    model = tiny()
    b = batch(b=6, n=5)
    logits, targets, fed = model.teacher_forcing(b["users"], b["history"], b["basket"])
    assert (fed[:, 0] == SOB).all()
    for i in range(6):
        basket = set(b["basket"][i].tolist())
        assert set(targets[i].tolist()) == basket  # every item once, none from outside the basket
        for j in range(5):
            assert int(fed[i, j + 1]) == int(targets[i, j])
            # the target is not an input of its step
            assert int(targets[i, j]) not in fed[i, : j + 1].tolist()
    # the logits of step j come from exactly the inputs fed before it (nothing else of the basket)
    h = model.initial_state(b["history"])
    for j in range(5):
        h, _ = model.step(model.query(b["users"], h), fed[:, : j + 1])
        torch.testing.assert_close(model.logits(h), logits[:, j])


def test_first_step_does_not_see_the_basket() -> None:
    model = tiny()
    b1, b2 = batch(seed=1), batch(seed=2)
    b2["users"], b2["history"] = b1["users"], b1["history"]
    l1, _, _ = model.teacher_forcing(b1["users"], b1["history"], b1["basket"])
    l2, _, _ = model.teacher_forcing(b2["users"], b2["history"], b2["basket"])
    torch.testing.assert_close(l1[:, 0], l2[:, 0])


def test_eq2_picks_top1_when_it_remains_else_a_remaining_item() -> None:
    logits = torch.full((3, V), 0.0)
    logits[:, 7] = 5.0
    remaining = torch.tensor([[7, 9, 0], [9, 11, 0], [0, 0, 0]])
    picked = PARSRec.pick_next(logits, remaining, torch.Generator().manual_seed(0))
    assert int(picked[0]) == 7
    assert int(picked[1]) in (9, 11)
    assert int(picked[2]) == 0


@pytest.mark.parametrize(
    "flags",
    [
        {},
        {"layer_norm": False},
        {"q_in_ln": False},
        {"attn_layers": 2},
        {"heads": 1},
        {"heads": 4},
        {"use_user": False},
        {"history_pool": "sum"},
    ],
)
def test_scores_are_invariant_to_basket_order(flags: dict[str, object]) -> None:
    model = tiny(**flags)
    b = batch(b=3, n=4)
    perm = b["basket"][:, torch.tensor([2, 0, 3, 1])]
    padded = torch.cat(
        [b["basket"][:, [3, 1]], torch.zeros(3, 1, dtype=torch.long), b["basket"][:, [0, 2]]], 1
    )
    s = model.score_all(b["users"], b["history"], b["basket"])
    torch.testing.assert_close(model.score_all(b["users"], b["history"], perm), s)
    torch.testing.assert_close(model.score_all(b["users"], b["history"], padded), s)
    assert torch.isinf(s[:, :2]).all() and torch.isfinite(s[:, 2:]).all()
    # and the basket matters: a different basket gives other scores
    assert not torch.allclose(model.score_all(b["users"], b["history"], b["basket"][:, :1]), s)


def test_forward_returns_attention_over_the_fed_keys() -> None:
    model = tiny()
    b = batch(b=2, n=3)
    scores, att, keys = model(b["users"], b["history"], b["basket"])
    assert scores.shape == (2, V) and att.shape == (2, 4) and keys.shape == (2, 4)
    torch.testing.assert_close(att.sum(1), torch.ones(2))
    assert (keys[:, 0] == SOB).all()
    assert sorted(keys[0, 1:].tolist()) == sorted(b["basket"][0].tolist())


def test_basket_metrics_by_hand() -> None:
    # basket 0 has 2 steps (best ranks 0 and 3), basket 1 has 3 steps (ranks 12, 1, 0)
    ranks = torch.tensor([0, 3, 12, 1, 0])
    sessions = torch.tensor([0, 0, 1, 1, 1])
    m = basket_metrics(ranks, sessions, ks=(1, 5, 10))
    assert m["hr@1"] == pytest.approx(2 / 5)
    assert m["hr@5"] == pytest.approx(4 / 5)
    assert m["ndcg@5"] == pytest.approx((1 + 1 / math.log2(5) + 1 / math.log2(3) + 1) / 5)
    assert m["sess_prec@1"] == pytest.approx((1 / 2 + 1 / 3) / 2)  # Eq. 4 per basket, then averaged
    assert m["sess_prec@5"] == pytest.approx((2 / 2 + 2 / 3) / 2)
    assert m["sess_prec@10"] == pytest.approx((2 / 2 + 2 / 3) / 2)


def small_data() -> BasketData:
    rng = np.random.default_rng(0)
    items = [f"i{k}" for k in range(40)]
    raw = {f"u{u}": [tuple(rng.choice(items, size=3, replace=False)) for _ in range(5)] for u in range(6)}
    return from_baskets(raw)


class Oracle:
    """Scores the remaining basket items highest (or lowest when ``invert``)."""

    def __init__(self, invert: bool = False) -> None:
        self.sign = -1.0 if invert else 1.0

    def start(self, batch: dict[str, torch.Tensor]) -> None:
        self.basket = batch["basket"]

    def scores(self, candidates: torch.Tensor) -> torch.Tensor:
        inside = (candidates.unsqueeze(2) == self.basket.unsqueeze(1)).any(2).float()
        return self.sign * inside + 0.01 * torch.arange(candidates.shape[1]).float()

    def feed(self, items: torch.Tensor) -> None:
        assert (items.unsqueeze(1) == self.basket).any(1).all()  # only basket items are fed


def test_protocol_with_an_oracle_and_its_opposite() -> None:
    data = small_data()
    _, _, test = data.split()
    good = evaluate_baskets(Oracle(), data, test, 10, n_neg=20)
    bad = evaluate_baskets(Oracle(invert=True), data, test, 10, n_neg=20)
    assert good["hr@1"] == 1.0 and good["sess_prec@1"] == 1.0 and good["ndcg@10"] == 1.0
    assert bad["hr@10"] == 0.0
    assert good["baskets"] == 6 and good["steps"] == 18


def test_split_history_and_size_batches() -> None:
    data = small_data()
    train, val, test = data.split()
    assert len(train) == 6 * 3 and len(val) == len(test) == 6
    u, t = test[0]
    assert len(data.history(u, t)) == 3 * 4  # the validation basket is in the test history
    for chunk in size_batches(data, train, 4, shuffle=True):
        b = collate(data, chunk, 100, np.random.default_rng(0))
        assert (b["basket"] != 0).all()  # one size per batch: no EOB padding


def test_export_parity(tmp_path: Path) -> None:
    model = tiny(attn_layers=2)
    export_torchscript(model, tmp_path / "m.pt")
    loaded = load_torchscript(tmp_path / "m.pt")
    for seed in (1, 2):
        b = batch(b=3, n=3, seed=seed)
        b["basket"][1, 2] = 0  # a shorter basket in the batch
        with torch.inference_mode():
            eager, exported = (
                model(b["users"], b["history"], b["basket"]),
                loaded(b["users"], b["history"], b["basket"]),
            )
        for e, x in zip(eager, exported, strict=True):
            torch.testing.assert_close(x, e)
