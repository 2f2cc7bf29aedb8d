"""Each stabilisation technique does what it says, on a small random BERT."""

import math

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from biomedserve.training.stabilise import (
    AdamW,
    encoder_layers,
    freeze_lower,
    head_bias_from_prior,
    head_from_probe,
    parameter_groups,
    prune_top_layers,
    reinit_pooler,
    reinit_top_layers,
)


def _model(layers=4, seed=0):
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, num_labels=2)
    return BertForSequenceClassification(config)


def _step(model, optimizer):
    ids = torch.randint(0, 100, (4, 12))
    loss = model(input_ids=ids, labels=torch.tensor([0, 1, 0, 1])).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()


def test_frozen_parameters_stay_bit_identical_after_a_step():
    model = _model()
    freeze_lower(model, embeddings=True, k=2)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    _step(model, AdamW(parameter_groups(model, 1e-2, 0.0, None), lr=1e-2))
    for name, p in model.named_parameters():
        frozen = ".embeddings." in f".{name}" or any(f"encoder.layer.{i}." in name for i in (0, 1))
        if frozen:
            assert torch.equal(p, before[name]), name
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    assert any("encoder.layer.3." in n for n in changed) and any("classifier" in n for n in changed)


def test_layerwise_rates_follow_lr_xi_power_l_minus_depth():
    model = _model(layers=4)
    lr, xi = 1e-3, 0.8
    groups = parameter_groups(model, lr, 0.01, xi)
    rate = {}
    for group in groups:
        for p in group["params"]:
            rate[id(p)] = group["lr"]
    named = dict(model.named_parameters())
    assert rate[id(named["bert.embeddings.word_embeddings.weight"])] == pytest.approx(lr * xi ** 4)
    for layer in range(4):
        p = named[f"bert.encoder.layer.{layer}.attention.self.query.weight"]
        assert rate[id(p)] == pytest.approx(lr * xi ** (4 - (layer + 1)))
    assert rate[id(named["classifier.weight"])] == pytest.approx(lr)
    # biases and LayerNorm get no weight decay
    for group in groups:
        names = [n for n, p in named.items() if any(p is q for q in group["params"])]
        if any(n.endswith("bias") for n in names):
            assert group["weight_decay"] == 0.0


def test_reinitialised_layers_differ_from_checkpoint_and_match_init_distribution():
    model = _model(layers=4)
    layers = encoder_layers(model)
    # push weights away from the init distribution, as pre-training does
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(5.0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    reinit_top_layers(model, 1)
    w = layers[3].intermediate.dense.weight
    assert not torch.equal(w, before["bert.encoder.layer.3.intermediate.dense.weight"])
    assert w.std().item() == pytest.approx(model.config.initializer_range, rel=0.15)
    assert w.mean().abs().item() < 0.01
    assert torch.all(layers[3].output.LayerNorm.weight == 1)
    # lower layers untouched
    assert torch.equal(layers[2].intermediate.dense.weight, before["bert.encoder.layer.2.intermediate.dense.weight"])


def test_reinitialised_pooler_differs_from_checkpoint_and_the_encoder_is_untouched():
    model = _model(layers=2)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(5.0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    reinit_pooler(model, False)
    assert torch.equal(model.bert.pooler.dense.weight, before["bert.pooler.dense.weight"])
    reinit_pooler(model, True)
    w = model.bert.pooler.dense.weight
    assert not torch.equal(w, before["bert.pooler.dense.weight"])
    assert w.std().item() == pytest.approx(model.config.initializer_range, rel=0.15)
    assert torch.all(model.bert.pooler.dense.bias == 0)
    for name, p in model.named_parameters():
        if ".pooler." not in name:
            assert torch.equal(p, before[name]), name


def test_reinit_pooler_is_a_no_op_on_models_without_one():
    from transformers import BertForTokenClassification

    model = BertForTokenClassification(_model().config)  # token heads build no pooler
    assert model.bert.pooler is None
    reinit_pooler(model, True)


def test_head_bias_starts_at_the_multi_label_log_odds():
    model = _model()
    model.classifier = torch.nn.Linear(32, 3)
    labels = [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, 0.0]]  # rates 1/2, 1/4, 0
    head_bias_from_prior(model, labels, "multi_label_classification")
    bias = model.classifier.bias.detach()
    assert bias[0].item() == pytest.approx(0.0, abs=1e-6)  # log(0.5/0.5)
    assert bias[1].item() == pytest.approx(math.log(0.25 / 0.75), rel=1e-5)
    assert bias[2].item() < -9  # an absent class starts near probability 0, not -inf
    assert torch.sigmoid(bias[1]).item() == pytest.approx(0.25, rel=1e-5)


def test_head_bias_starts_at_the_single_label_log_prior_and_refuses_regression():
    model = _model()  # 2 labels
    head_bias_from_prior(model, [0, 0, 0, 1], None)
    probs = torch.softmax(model.classifier.bias.detach(), 0)
    assert probs.tolist() == pytest.approx([4 / 6, 2 / 6])  # add-one smoothed 3:1
    with pytest.raises(ValueError, match="regression"):
        head_bias_from_prior(model, [0.5, 1.0], "regression")
    with pytest.raises(ValueError, match="3 label columns"):
        head_bias_from_prior(model, [[1, 0, 0]], "multi_label_classification")


def test_pruning_drops_top_layers_and_keeps_the_rest(tmp_path):
    model = _model(layers=4)
    kept = [layer.attention.self.query.weight.clone() for layer in encoder_layers(model)]
    prune_top_layers(model, 2)
    assert len(encoder_layers(model)) == 2 and model.config.num_hidden_layers == 2
    for layer, original in zip(encoder_layers(model), kept[:2]):
        assert torch.equal(layer.attention.self.query.weight, original)
    model.save_pretrained(tmp_path)
    assert len(encoder_layers(BertForSequenceClassification.from_pretrained(tmp_path))) == 2
    with pytest.raises(ValueError):
        prune_top_layers(model, 2)


def test_adamw_with_bias_correction_matches_torch():
    a, b = _model(seed=1), _model(seed=1)
    ours = AdamW(a.parameters(), lr=1e-3, eps=1e-8, weight_decay=0.01)
    theirs = torch.optim.AdamW(b.parameters(), lr=1e-3, eps=1e-8, weight_decay=0.01)
    for _ in range(3):
        torch.manual_seed(7)
        _step(a, ours)
        torch.manual_seed(7)
        _step(b, theirs)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-5)


def test_without_bias_correction_first_step_is_smaller_by_the_missing_factor():
    # BertAdam's first update is lr·(1−β1)/sqrt(1−β2)·sign(g) ≈ 3.16·lr... for β=(0.9, 0.999)
    # but with bias correction it is lr·sign(g): the ratio is (1−β1)/sqrt(1−β2)
    p1 = torch.nn.Parameter(torch.zeros(5))
    p2 = torch.nn.Parameter(torch.zeros(5))
    grad = torch.tensor([1.0, -2.0, 0.5, 3.0, -0.1])
    for p, corrected in ((p1, True), (p2, False)):
        opt = AdamW([p], lr=0.1, eps=1e-12, bias_correction=corrected)
        p.grad = grad.clone()
        opt.step()
    torch.testing.assert_close(p1.detach(), -0.1 * grad.sign())
    ratio = (1 - 0.9) / math.sqrt(1 - 0.999)
    torch.testing.assert_close(p2.detach(), -0.1 * ratio * grad.sign())


def test_head_from_probe_predicts_what_the_probe_predicts():
    """The head's logits rank classes as scikit-learn's fitted probe does (multinomial and binary)."""
    from sklearn.linear_model import LogisticRegression

    generator = torch.Generator().manual_seed(0)
    features = torch.randn(60, 32, generator=generator)
    for classes in (3, 2):
        labels = (features[:, 0] * 2 + features[:, 1] > 0).long() + (features[:, 2] > 1).long() * (classes == 3)
        model = _model()
        model.classifier = torch.nn.Linear(32, classes + 1)  # one class the training labels never show
        head_from_probe(model, features, labels.tolist(), "single_label_classification")
        probe = LogisticRegression(max_iter=2000).fit(features.numpy(), labels.numpy())
        with torch.no_grad():
            logits = model.classifier(features)
        assert logits.argmax(1).tolist() == probe.predict(features.numpy()).tolist()
        assert torch.softmax(logits, 1)[:, classes].max().item() < 1e-3  # the unseen class stays unlikely
        assert torch.softmax(logits, 1)[:, :classes].numpy() == pytest.approx(
            probe.predict_proba(features.numpy()), abs=1e-4)


def test_head_from_probe_fits_each_multi_label_column_and_refuses_regression():
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(40, 32, generator=generator)
    labels = torch.stack([(features[:, 0] > 0).float(), torch.zeros(40)], 1)  # second column: never on
    model = _model()
    model.classifier = torch.nn.Linear(32, 2)
    head_from_probe(model, features, labels.tolist(), "multi_label_classification")
    with torch.no_grad():
        probs = torch.sigmoid(model.classifier(features))
    assert ((probs[:, 0] > 0.5).float() == labels[:, 0]).float().mean().item() > 0.9
    assert probs[:, 1].max().item() < 1e-3
    with pytest.raises(ValueError, match="regression"):
        head_from_probe(model, features, [0.5] * 40, "regression")
