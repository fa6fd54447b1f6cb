"""Journey models: JS divergence against hand-computed values, validity counting, tokenizers, the GPT's loss
falling on a tiny set, KV-cache and TorchScript parity, the Markov baseline."""

from __future__ import annotations

import math

import pytest
import torch

from models.export import export_torchscript
from models.journey_eval import journey_stats, js_divergence
from models.journey_gpt import JourneyModelConfig, build_journey_model
from models.journey_tokens import tokenizer_from_dict, train_tokenizer
from models.journey_train import MarkovChain, TrainSettings, generate, prompt_of, train_model
from omniseq.data.journey_encoding import BUY
from omniseq.data.sim.store_layout import encode_cell
from omniseq.data.sim.store_plans import store


def test_js_divergence_hand_computed() -> None:
    assert js_divergence([1, 0], [0, 1]) == pytest.approx(1.0)
    assert js_divergence([3, 1], [3, 1]) == pytest.approx(0.0, abs=1e-12)
    # P=(.5,.5), Q=(1,0): M=(.75,.25); KL(P||M)=.5 log2(2/3)+.5 log2 2, KL(Q||M)=log2(4/3)
    want = 0.5 * (0.5 * math.log2(2 / 3) + 0.5) + 0.5 * math.log2(4 / 3)
    assert js_divergence([1, 1], [2, 0]) == pytest.approx(want) == pytest.approx(0.311278, abs=1e-6)
    assert js_divergence([0.2, 0.3, 0.5], [0.5, 0.3, 0.2]) == pytest.approx(
        js_divergence([5, 3, 2], [2, 3, 5])
    )
    for p, q in (([1, 0], [1, 0, 0]), ([0, 0], [1, 1]), ([-1, 2], [1, 1])):
        with pytest.raises(ValueError):
            js_divergence(p, q)


def test_validity_counts_shelf_crossings_and_bad_codes() -> None:
    lay = store("A")
    aisle = [encode_cell((8, c)) for c in range(5, 12)]
    ok = journey_stats(lay, [aisle])
    assert ok.steps == 7 and ok.invalid_steps == 0
    jump = aisle + [encode_cell((3, 11))]  # across the shelf run at rows 5-6
    onshelf = aisle + [encode_cell((5, 8))]
    junk = aisle + ["ZZZZZZ"]
    assert [journey_stats(lay, [w]).invalid_steps for w in (jump, onshelf, junk)] == [1, 1, 1]
    buy = journey_stats(lay, [[encode_cell(lay.zones[0].faces[2]), BUY]])
    assert buy.purchases[0] == 1 and buy.purchases.sum() == 1


def _corpus() -> list[list[str]]:
    lay = store("A")
    out = []
    for k in range(8):
        row = 7 + 6 * (k % 4)
        out.append([encode_cell((row, c)) for c in range(4, 16)] + [BUY] + [encode_cell((row, 16))])
    assert all(lay.walkable(tuple(int(x) for x in (7 + 6 * (k % 4), 10))) for k in range(4))  # type: ignore[arg-type]
    return out


@pytest.mark.parametrize("kind", ["bpe", "code"])
def test_tokenizers_round_trip(kind: str) -> None:
    words = _corpus()
    tok = train_tokenizer(kind, words, vocab_size=300)
    again = tokenizer_from_dict(tok.to_dict())
    for w in words:
        assert again.decode(tok.encode(w)) == w


def test_gpt_loss_falls_on_a_tiny_set() -> None:
    torch.manual_seed(0)
    words = _corpus()
    tok = train_tokenizer("code", words)
    model = build_journey_model(
        JourneyModelConfig("gpt", tok.vocab_size, d=32, layers=2, heads=2, max_len=32)
    )
    fit = train_model(
        model, [tok.encode(w) for w in words], TrainSettings(min_steps=80, max_steps=80, batch=8, lr=3e-3)
    )
    assert fit["last_loss"] < 0.6 * fit["first_loss"]
    prompts = [prompt_of(w) for w in words[:4]]
    out = generate(model, [tok.encode(p) for p in prompts], seed=0, top_k=1)
    seen = {x for w in words for x in w}
    for ids in out:
        assert 0 < len(ids) < 30 and set(tok.decode(ids)) <= seen  # stops, and only known words


@pytest.mark.parametrize("arch", ["gpt", "lstm"])
def test_step_cache_and_torchscript_parity(arch: str) -> None:
    torch.manual_seed(0)
    model = build_journey_model(JourneyModelConfig(arch, 40, d=32, layers=2, heads=2, max_len=24)).eval()
    x = torch.randint(3, 40, (3, 11))
    full = model(x)
    k, v = model.empty_cache(3)
    a, k, v = model.step(x[:, :6], 0, k, v)
    b, k, v = model.step(x[:, 6:7], 6, k, v)
    c, _, _ = model.step(x[:, 7:], 7, k, v)
    assert torch.allclose(torch.cat([a, b, c], 1), full, atol=1e-5)
    scripted = export_torchscript(model)
    assert torch.allclose(scripted(x), full, atol=1e-6)
    assert generate(scripted, [[4, 5, 6], [7, 8]], seed=2) == generate(model, [[4, 5, 6], [7, 8]], seed=2)


def test_markov_chain_only_makes_seen_moves() -> None:
    words = _corpus()
    mc = MarkovChain().fit(words)
    seen = {
        (a, b) for w in words for a, b in zip(MarkovChain.states(w), MarkovChain.states(w)[1:], strict=False)
    }
    for k, w in enumerate(words):
        gen = MarkovChain.states(prompt_of(w) + mc.generate(prompt_of(w), seed=k))
        assert all(pair in seen for pair in zip(gen, gen[1:], strict=False))
        assert gen[-1] == w[-1]  # every training journey ends at its last cell, so generation does too
