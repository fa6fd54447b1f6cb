"""LENS modules: shapes, padding invariance, teacher forcing, the decoder's end token, warm start, export parity."""

from __future__ import annotations

import pytest
import torch

from models.export import export_torchscript
from models.layers import MaskedBiLSTM
from models.lens import L_EOS, L_PAD, LENS, LensConfig, lens_config


def _batch(n_items: int = 40) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    baskets = torch.randint(3, n_items, (3, 4, 5), generator=g)
    baskets[0, 2:] = L_PAD  # 2 baskets
    baskets[1, 1:] = L_PAD  # 1 basket
    baskets[2, :, 3:] = L_PAD  # 4 baskets of 3 items
    feats = torch.randn(3, 4, 13, generator=g)
    target = torch.tensor([[5, 6, L_EOS, L_PAD], [7, L_EOS, L_PAD, L_PAD], [8, 9, 10, L_EOS]])
    return {
        "baskets": baskets,
        "feats": feats,
        "users": torch.tensor([0, 1, 2]),
        "target": target,
        "gap_days": torch.tensor([1.0, 2.0, 3.0]),
        "gap_known": torch.tensor([True, False, True]),
    }


@pytest.mark.parametrize("size", ["lens1000", "lens2000"])
def test_shapes_and_table1_sizes(size: str) -> None:
    torch.manual_seed(0)
    model = LENS(lens_config(size, 40, 4)).eval()
    b = _batch()
    ctx = model.encode(b["baskets"], b["feats"], b["users"])
    assert ctx.shape == (3, model.config.context_dim)
    with torch.no_grad():
        items, probs, first, days = model(b["baskets"], b["feats"], b["users"])
    assert items.shape == probs.shape and items.shape[0] == 3 and items.shape[1] <= model.max_items
    assert first.shape == (3, 40) and days.shape == (3,) and bool((days >= 0).all())
    assert torch.allclose(first.sum(1), torch.ones(3)) and float(first[:, :3].max()) < 1e-6
    nsd = [c.hidden_size for c in model.nsd.cells]
    assert nsd == ([512] if size == "lens1000" else [512, 128])
    assert len(model.fbe.rnn.layers) == (1 if size == "lens1000" else 2)
    loss = model.loss(b)
    loss.backward()
    assert torch.isfinite(loss) and model.sce.rnn.layers[0].fwd.weight_ih_l0.grad is not None


def test_padding_does_not_change_the_encoding() -> None:
    torch.manual_seed(0)
    model = LENS(lens_config("lens2000", 40, 4)).eval()
    b = _batch()
    ctx = model.encode(b["baskets"], b["feats"], b["users"])
    wider = torch.cat([b["baskets"], torch.zeros(3, 4, 3, dtype=torch.long)], dim=2)
    longer = torch.cat([wider, torch.zeros(3, 2, 8, dtype=torch.long)], dim=1)
    feats = torch.cat([b["feats"], torch.zeros(3, 2, 13)], dim=1)
    assert torch.allclose(model.encode(longer, feats, b["users"]), ctx, atol=1e-5)


def test_masked_bilstm_matches_torch_on_full_rows() -> None:
    torch.manual_seed(0)
    rnn = MaskedBiLSTM(6, 5, 1, True)
    ref = torch.nn.LSTM(6, 5, batch_first=True, bidirectional=True)
    ref.weight_ih_l0, ref.weight_hh_l0 = rnn.layers[0].fwd.weight_ih_l0, rnn.layers[0].fwd.weight_hh_l0
    ref.bias_ih_l0, ref.bias_hh_l0 = rnn.layers[0].fwd.bias_ih_l0, rnn.layers[0].fwd.bias_hh_l0
    bwd = rnn.layers[0].bwd
    assert bwd is not None
    ref.weight_ih_l0_reverse, ref.weight_hh_l0_reverse = bwd.weight_ih_l0, bwd.weight_hh_l0
    ref.bias_ih_l0_reverse, ref.bias_hh_l0_reverse = bwd.bias_ih_l0, bwd.bias_hh_l0
    x = torch.randn(2, 7, 6)
    out, _ = rnn(x, torch.tensor([7, 7]))
    assert torch.allclose(out, ref(x)[0], atol=1e-6)


def test_teacher_forcing_feeds_the_previous_target() -> None:
    torch.manual_seed(0)
    model = LENS(lens_config("lens1000", 40, 4)).eval()
    b = _batch()
    ctx = model.encode(b["baskets"], b["feats"], b["users"])
    logits = model.teacher_forced_logits(ctx, b["target"])
    changed = b["target"].clone()
    changed[:, 1] = 20
    logits2 = model.teacher_forced_logits(ctx, changed)
    assert torch.equal(logits[:, :2], logits2[:, :2])  # steps 0, 1 never see target[:, 1]
    assert not torch.allclose(logits[:, 2], logits2[:, 2])  # step 2 is fed target[:, 1]
    # greedy decoding = teacher forcing on the decoded basket, with emitted items, <pad> and <bos> masked
    items, probs = model.decode(ctx, 4)
    row = items[0][items[0] != L_PAD]
    tf = model.teacher_forced_logits(ctx[:1], row.unsqueeze(0))[0]
    for s in range(len(row)):
        banned = [L_PAD, 2, *row[:s].tolist()]
        p = torch.softmax(tf[s].index_fill(0, torch.tensor(banned), -1e9), dim=-1)
        assert int(p.argmax()) == int(row[s]) and torch.allclose(p.max(), probs[0, s], atol=1e-5)


def test_decoder_stops_at_the_end_token() -> None:
    model = LENS(lens_config("lens1000", 40, 4)).eval()
    with torch.no_grad():
        model.nsd.out.weight.zero_()
        model.nsd.out.bias.fill_(0.0)
        model.nsd.out.bias[7] = 12.0  # first choice: item 7
        model.nsd.out.bias[L_EOS] = 10.0  # then (7 may not repeat) the end token
    b = _batch()
    items, probs, _, _ = model(b["baskets"], b["feats"], b["users"])
    assert items.tolist() == [[7, L_PAD]] * 3  # stopped after 2 steps, not max_items
    assert bool((probs[:, 0] > 0.8).all()) and bool((probs[:, 1] == 0).all())
    with torch.no_grad():
        model.nsd.out.bias[L_EOS] = -10.0  # never ends: bounded by max_items, no repeats
    items, _ = model.decode(model.encode(b["baskets"], b["feats"], b["users"]), 6)
    assert items.shape == (3, 6) and all(len(set(r)) == 6 for r in items.tolist())


def test_time_loss_kinds_and_objectives() -> None:
    b = _batch()
    for kind in ("mae", "mse"):
        model = LENS(lens_config("lens1000", 40, 4, objective="time", time_loss=kind))
        with torch.no_grad():
            model.time_head[2].weight.zero_()
            model.time_head[2].bias.fill_(0.0)  # softplus(0) = ln 2 days for everyone
        err = torch.tensor([1.0, 3.0]) - torch.log(torch.tensor(2.0))  # users 0 and 2 have a known gap
        want = err.abs().mean() if kind == "mae" else (err * err).mean()
        assert torch.allclose(model.loss(b), want, atol=1e-5)
    with pytest.raises(ValueError):
        LensConfig(name="x", n_items=40, n_users=2, objective="bogus")  # type: ignore[arg-type]


def test_warm_start_freeze_and_fine_tune() -> None:
    model = LENS(lens_config("lens1000", 40, 4, freeze_items=True))
    w = torch.randn(40, 64)
    model.load_item_embeddings(w)
    assert torch.equal(model.items.weight[3:], w[3:]) and float(model.items.weight[L_PAD].abs().sum()) == 0
    assert not model.items.weight.requires_grad
    model.load_item_embeddings(w, freeze=False)
    model.loss(_batch()).backward()
    assert model.items.weight.grad is not None


def test_export_parity(tmp_path: object) -> None:
    torch.manual_seed(0)
    model = LENS(lens_config("lens2000", 40, 4)).eval()
    b = _batch()
    scripted = export_torchscript(model)
    for got, want in zip(
        scripted(b["baskets"], b["feats"], b["users"]),
        model(b["baskets"], b["feats"], b["users"]),
        strict=True,
    ):
        assert torch.allclose(got.float(), want.float(), atol=1e-6)
    for got, want in zip(
        scripted.funnel(b["baskets"], b["feats"], b["users"]),
        model.funnel(b["baskets"], b["feats"], b["users"]),
        strict=True,
    ):
        assert torch.allclose(got, want, atol=1e-6)
