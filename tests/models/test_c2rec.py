"""C2Rec: the three components, the channel-wise attention, channel-only users, each loss term, export per channel."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from models.c2rec import COMPONENTS, ONLINE, STORE, C2Rec, channel_index, presence
from models.export import export_torchscript, load_torchscript
from models.zoo import build_model

from .conftest import L, M, V, tiny_batch, tiny_config


def make(**kw: object) -> C2Rec:
    torch.manual_seed(0)
    model = build_model(tiny_config("c2rec", **kw))
    assert isinstance(model, C2Rec)
    return model.eval()


def distinct(model: C2Rec) -> C2Rec:
    """Components start equal (``W_k = 0``); give them distinct maps, as training does."""
    with torch.no_grad():
        model.heads.weight.normal_(std=0.1)
        model.heads.bias.normal_(std=0.1)
    return model


def online_only(b: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    tokens = torch.randint(2, V, (b, L), generator=torch.Generator().manual_seed(1))
    tokens[:, :3] = 0
    return tokens, torch.zeros(b, L, M, dtype=torch.int64)


def store_only(b: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    tokens = torch.zeros(b, L, dtype=torch.int64)
    baskets = torch.zeros(b, L, M, dtype=torch.int64)
    tokens[:, -3:] = 1
    baskets[:, -3:, :2] = torch.randint(2, V, (b, 3, 2), generator=torch.Generator().manual_seed(2))
    return tokens, baskets


def test_three_components_are_distinct_maps_of_the_hybrid_context() -> None:
    model = distinct(make())
    batch = tiny_batch("c2rec")
    tokens, baskets = batch["tokens"][:, 1:], batch["baskets"][:, 1:]
    u, present = model.user(tokens, baskets)
    assert u.shape == (tokens.shape[0], len(COMPONENTS), 16)
    assert not torch.allclose(u[:, 0], u[:, 1]) and not torch.allclose(u[:, 1], u[:, 2])
    assert present.all()  # the batch holds a basket and online items
    h = model.seq.user_repr(tokens, baskets)
    w, b = model.heads.weight.view(3, 16, 16), model.heads.bias.view(3, 16)
    for k in range(3):
        torch.testing.assert_close(u[:, k], h + h @ w[k].t() + b[k])


@pytest.mark.parametrize("channel", ["store", "online"])
def test_score_is_the_attention_weighted_sum_of_component_scores(channel: str) -> None:
    model = make()
    batch = tiny_batch("c2rec")
    tokens, baskets = batch["tokens"][:, 1:], batch["baskets"][:, 1:]
    c = channel_index(channel)
    items = torch.arange(2, V).expand(tokens.shape[0], -1)
    a = model.attention(tokens, baskets, items, c)  # [B, 3, V-2]
    u, _ = model.user(tokens, baskets)
    y = model.item_weights()[2:V]
    logits = torch.einsum("bkd,de,ve->bkv", u, model.attn_w[c], y) / math.sqrt(16) + model.attn_b[c][:, None]
    torch.testing.assert_close(a, torch.softmax(logits, dim=1))
    expected = (a * torch.einsum("bkd,vd->bkv", u, y)).sum(1)
    torch.testing.assert_close(model.channel_scores(tokens, baskets, c)[:, 2:], expected)


@pytest.mark.parametrize("attention", ["bilinear", "uniform"])
def test_attention_sums_to_one_per_item_and_channel(attention: str) -> None:
    model = distinct(make(channel_attention=attention))
    batch = tiny_batch("c2rec")
    tokens, baskets = batch["tokens"][:, 1:], batch["baskets"][:, 1:]
    items = torch.arange(2, V).expand(tokens.shape[0], -1)
    for c in (STORE, ONLINE):
        a = model.attention(tokens, baskets, items, c)
        torch.testing.assert_close(a.sum(1), torch.ones(tokens.shape[0], V - 2))
        assert (a >= 0).all()
        if attention == "uniform":
            torch.testing.assert_close(a, torch.full_like(a, 1 / 3))
    store = model.attention(tokens, baskets, items, STORE)
    assert (
        not torch.allclose(store, model.attention(tokens, baskets, items, ONLINE)) or attention == "uniform"
    )


@pytest.mark.parametrize(("history", "absent"), [(online_only, "store"), (store_only, "online")])
def test_channel_only_user_gets_no_weight_on_the_missing_component(history, absent: str) -> None:  # type: ignore[no-untyped-def]
    model = make()
    tokens, baskets = history()
    items = torch.arange(2, V).expand(tokens.shape[0], -1)
    for c in (STORE, ONLINE):
        a = model.attention(tokens, baskets, items, c)
        assert (a[:, COMPONENTS.index(absent)] == 0).all()
        torch.testing.assert_close(a.sum(1), torch.ones(tokens.shape[0], V - 2))
        assert torch.isfinite(model.channel_scores(tokens, baskets, c)[:, 2:]).all()


def test_presence_is_causal() -> None:
    tokens = torch.tensor([[0, 5, 1, 7]])
    assert presence(tokens)[0].tolist() == [
        [True, False, False],
        [True, False, True],
        [True, True, True],
        [True, True, True],
    ]


def test_each_loss_term_matches_a_hand_computation() -> None:
    model = make(loss="full", lambda_cls=0.3, lambda_attn=0.7)
    batch = tiny_batch("c2rec")
    terms = model.loss_terms(batch)
    h, present, targets, channels = model.label_rows(batch)
    tokens, baskets = batch["tokens"], batch["baskets"]
    n_online = int((batch["online"][:, 1:] & (tokens[:, :-1] != 0)).sum())
    n_store = int((baskets[:, 1:][tokens[:, 1:] == 1] >= 2).sum())
    assert (int((channels == ONLINE).sum()), int((channels == STORE).sum())) == (
        n_online,
        n_store,
    ) and n_store
    u = model.components(h)
    y = model.item_weights()[:V]

    def scores(c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, a = model.attend(u, present, c, y.unsqueeze(0))
        return s, a

    s, a = scores(channels)
    s[:, :2] = -math.inf
    ce = F.cross_entropy(s, targets, reduction="none")
    on = channels == ONLINE
    torch.testing.assert_close(terms["rec_online"], ce[on].mean())
    torch.testing.assert_close(terms["rec_store"], ce[~on].mean())
    rows = torch.arange(len(targets))
    s_on = scores(torch.full_like(channels, ONLINE))[0][rows, targets]
    s_off = scores(torch.full_like(channels, STORE))[0][rows, targets]
    p = torch.sigmoid(s_on - s_off)
    torch.testing.assert_close(terms["cls"], -(on * p.log() + (~on) * (1 - p).log()).mean())
    wrong = torch.where(on, COMPONENTS.index("store"), COMPONENTS.index("online"))
    torch.testing.assert_close(terms["attn"], a[rows, wrong, targets].mean())
    expected = terms["rec_online"] + terms["rec_store"] + 0.3 * terms["cls"] + 0.7 * terms["attn"]
    torch.testing.assert_close(terms["total"], expected)


def test_sampled_loss_trains_every_term_down() -> None:
    model = make(n_negatives=30)
    model.train()
    batch = tiny_batch("c2rec", b=16)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    torch.manual_seed(0)
    first = {k: float(v.detach()) for k, v in model.loss_terms(batch).items()}
    for _ in range(60):
        opt.zero_grad()
        model.loss(batch).backward()
        opt.step()
    torch.manual_seed(0)
    last = {k: float(v.detach()) for k, v in model.loss_terms(batch).items()}
    for key in ("rec_online", "rec_store", "cls", "attn", "total"):
        assert last[key] < first[key], (key, first[key], last[key])


def test_a_batch_without_baskets_has_no_store_term() -> None:
    model = make()
    batch = tiny_batch("sasrec")  # no basket tokens
    terms = model.loss_terms(batch)
    assert float(terms["rec_store"]) == 0.0 and float(terms["rec_online"]) > 0.0


@pytest.mark.parametrize("channel", ["store", "online"])
def test_export_parity_per_channel(channel: str, tmp_path: Path) -> None:
    model = distinct(make())
    batch = tiny_batch("c2rec")
    tokens, baskets = batch["tokens"][:, 1:], batch["baskets"][:, 1:]
    export_torchscript(model, tmp_path / "m.pt", channel=channel)
    loaded = load_torchscript(tmp_path / "m.pt")
    with torch.inference_mode():
        expected = model.channel_scores(tokens, baskets, channel_index(channel))
        torch.testing.assert_close(loaded(tokens, baskets), expected)
        if channel == "online":
            torch.testing.assert_close(expected, model.score_all(tokens, baskets))
        else:
            assert not torch.allclose(expected[:, 2:], model.score_all(tokens, baskets)[:, 2:])


def test_export_rejects_unknown_channels_and_channel_less_models() -> None:
    with pytest.raises(ValueError, match="unknown channel"):
        export_torchscript(make(), channel="catalogue")
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="no channels"):
        export_torchscript(build_model(tiny_config("sasrec")), channel="store")


def test_config_rejects_other_layouts_and_attention_forms() -> None:
    with pytest.raises(ValueError, match="attnE layout"):
        C2Rec(tiny_config("c2rec", store_mode="flatten"))
    with pytest.raises(ValueError, match="channel_attention"):
        C2Rec(tiny_config("c2rec", channel_attention="mlp"))


def test_components_start_as_the_sequence_representation() -> None:
    model = make()
    batch = tiny_batch("c2rec")
    tokens, baskets = batch["tokens"][:, 1:], batch["baskets"][:, 1:]
    u, _ = model.user(tokens, baskets)
    h = model.seq.user_repr(tokens, baskets)
    for k in range(3):
        torch.testing.assert_close(u[:, k], h)


def test_a_trained_c2rec_registers_in_the_cross_channel_family(tmp_path: Path) -> None:
    from models.inputs import InputSpec, build_vocab
    from models.registry import ModelRegistry
    from models.train import History, TrainConfig, TrainResult, manifest_of, write_artifacts

    model = make()
    vocab = build_vocab(f"i{i}" for i in range(V - 2))
    cfg = TrainConfig(model="c2rec", max_len=L, max_basket=M, progress=False)
    metrics = {"full_ndcg@10": 0.1, "full_hr@10": 0.2}
    result = TrainResult(
        model, vocab, InputSpec(L, M, "attn"), cfg, History(), metrics, metrics, {}, {"i3": 2}
    )
    manifest = manifest_of(result)
    assert (manifest["family"], manifest["channel"]) == ("cross_channel", "store")
    registry = ModelRegistry(tmp_path / "reg")
    version = registry.register(write_artifacts(result, tmp_path / "art"), manifest)
    registry.promote(version)
    champion = registry.champion("cross_channel")
    assert champion is not None and champion.version == version and registry.champion() is None
    loaded = load_torchscript(champion.model_path)
    batch = tiny_batch("c2rec")
    tokens, baskets = batch["tokens"][:, 1:], batch["baskets"][:, 1:]
    with torch.inference_mode():
        torch.testing.assert_close(loaded(tokens, baskets), model.channel_scores(tokens, baskets, STORE))
