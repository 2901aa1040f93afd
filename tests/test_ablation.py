"""sclib.ablation: the Bag-of-Tricks chain of recipes, the large-batch column, the checks, the paper's rows."""
import math
from types import SimpleNamespace

import pytest
import torch

from sclib import ablation, models, papers, profiles
from sclib.errors import ConfigError


def _cfg(**kw):
    base = dict(dataset="digits", model="resnet8", teacher_model="resnet20", n_train=100, n_test=60, epochs=2,
                teacher_epochs=2, batch_size=16, scale_k=4, seeds=3, base_lr=0.4, momentum=0.9,
                weight_decay=5e-4, warmup_epochs=1, ls_eps=0.1, mixup_alpha=0.2, distill_T=4.0,
                channels_last=False, root=None, device="cpu")
    base.update(kw)
    return SimpleNamespace(**base)


CHAIN = ["linear scaling", "+ LR warmup", "+ zero γ", "+ no bias decay", "+ low precision", "ResNet-C",
         "ResNet-D", "+ cosine decay", "+ label smoothing", "+ mixup"]


def _diff(a: dict, b: dict) -> set:
    """Keys whose value differs (optimizer callables compared by name)."""
    def norm(v):
        return getattr(v, "__name__", v) if callable(v) else v
    return {k for k in set(a) | set(b) if norm(a.get(k)) != norm(b.get(k))}


def test_linear_scaling_and_milestones():
    assert ablation.linear_scaled_lr(0.1, 256) == pytest.approx(0.1)
    assert ablation.linear_scaled_lr(0.1, 1024) == pytest.approx(0.4)
    assert ablation.linear_scaled_lr(0.2, 128) == pytest.approx(0.1)
    assert ablation.step_milestones(8) == [4, 6]
    assert ablation.step_milestones(90) == [45, 68]
    assert all(0 < m < 4 for m in ablation.step_milestones(4))
    assert ablation.step_milestones(2) == [1]


def test_chain_adds_one_change_per_row():
    cfg = profiles.resolve("bag_of_tricks", "cpu")
    rows = ablation.chain(cfg, "bf16")
    assert [label for label, _ in rows] == CHAIN
    r = dict(rows)
    lr = ablation.linear_scaled_lr(cfg.base_lr, cfg.batch_size)
    assert all(kw["lr"] == pytest.approx(lr) for _, kw in rows)  # one LR rule, no per-row LR
    changed = [_diff(a, b) for (_, a), (_, b) in zip(rows, rows[1:])]
    assert changed == [{"schedule"}, {"model_kwargs"}, {"optimizer"}, {"precision"}, {"model_kwargs"},
                       {"model_kwargs"}, {"schedule"}, {"label_smoothing"}, {"mixup_alpha"}]
    base = r["linear scaling"]
    assert base["schedule"] == {"kind": "step", "milestones": ablation.step_milestones(cfg.epochs), "gamma": 0.1}
    assert base["precision"] == "fp32" and base["optimizer"] == "sgd" and base["model_kwargs"] == {}
    assert r["+ LR warmup"]["schedule"]["warmup_epochs"] == cfg.warmup_epochs
    assert r["+ no bias decay"]["optimizer"].__name__ == "torch_sgd+nbd"
    assert r["+ low precision"]["precision"] == "bf16"
    assert r["ResNet-C"]["model_kwargs"] == {"zero_gamma": True, "variant": "C"}
    assert r["ResNet-D"]["model_kwargs"] == {"zero_gamma": True, "variant": "D"}
    assert r["+ cosine decay"]["schedule"]["kind"] == "cosine"
    assert r["+ cosine decay"]["schedule"]["warmup_epochs"] == cfg.warmup_epochs
    assert r["+ mixup"]["label_smoothing"] == cfg.ls_eps and r["+ mixup"]["precision"] == "bf16"
    # without a low precision (float64) the row is left out and C follows no bias decay
    labels = [label for label, _ in ablation.chain(cfg, None)]
    assert "+ low precision" not in labels and labels[labels.index("ResNet-C") - 1] == "+ no bias decay"
    assert all(kw["precision"] == "fp32" for _, kw in ablation.chain(cfg, None))


def test_distillation_large_batch_and_longer():
    cfg = _cfg()
    rows = ablation.chain(cfg, None)
    teacher = torch.nn.Linear(2, 2)
    d = ablation.with_distillation(rows, teacher, 3.0)
    assert d[-1][0] == "+ distillation" and d[-1][1]["teacher"] is teacher and d[-1][1]["distill_T"] == 3.0
    assert _diff(d[-2][1], d[-1][1]) == {"teacher", "distill_T"}
    lb = ablation.large_batch(cfg, rows)
    assert list(lb) == list(ablation.LARGE_BATCH_ROWS)
    for label, kw in lb.items():
        assert kw["batch_size"] == 64
        assert kw["lr"] == pytest.approx(cfg.scale_k * dict(rows)[label]["lr"])  # the linear rule
        assert _diff(kw, dict(rows)[label]) == {"batch_size", "lr"}
    e2, kw2 = ablation.longer(_cfg(epochs=8), dict(rows)["linear scaling"])
    assert e2 == 16 and kw2["schedule"]["milestones"] == [8, 12]
    e2, kw2 = ablation.longer(cfg, dict(rows)["+ cosine decay"])
    assert e2 == 4 and kw2["schedule"] == dict(rows)["+ cosine decay"]["schedule"]


def test_low_precision_mode():
    old = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        assert ablation.low_precision("cpu") is None
        torch.set_default_dtype(torch.float32)
        assert ablation.low_precision("cpu") == "bf16"
        assert ablation.low_precision("cuda") == "fp16"
    finally:
        torch.set_default_dtype(old)


def test_precision_dtypes_keep_weights_in_float32():
    net = models.create("resnet8", 10, 1).float()
    x = torch.randn(4, 1, 8, 8, dtype=torch.float32)
    dt = ablation.precision_dtypes(net, x, "bf16")
    assert dt == dict(activations="bfloat16", weights="float32", gradients="float32")
    assert ablation.precision_dtypes(net, x, "fp32")["activations"] == "float32"
    assert all(p.grad is None for p in net.parameters())  # no gradient left behind


def test_resnet_b_is_a_but_c_and_d_are_not():
    chk = ablation.b_is_a("resnet8", 10, 3, zero_gamma=True)
    assert chk["same_shapes"] and chk["same_weights"] and chk["max_output_diff"] == 0.0
    n = {v: sum(p.numel() for p in models.create("resnet8", 10, 3, variant=v).parameters()) for v in "ABCD"}
    assert n["A"] == n["B"] == chk["n_params"] and n["C"] != n["A"]


def test_paper_rows_are_the_tables_changes():
    p = ablation.paper_rows()
    assert list(p) == CHAIN[:5] + ["ResNet-B"] + CHAIN[5:] + ["+ distillation"]
    t4, t5, t6 = (papers.value(k) for k in ("bot.table4.bs256", "bot.table5", "bot.table6.resnet50d"))
    assert math.isnan(p["linear scaling"]["effect"])
    assert p["+ zero γ"]["effect"] == pytest.approx(t4["+ zero γ"] - t4["+ LR warmup"])
    assert p["+ low precision"]["effect"] == pytest.approx(
        papers.value("bot.table4.fp16")["BS=256"] - t4["+ no bias decay"])
    assert p["ResNet-B"]["effect"] == pytest.approx(t5["B"] - t5["A"])
    assert p["ResNet-C"]["effect"] == pytest.approx(t5["C"] - t5["B"])  # our C is compared with B = A
    assert p["ResNet-D"]["effect"] == pytest.approx(t5["D"] - t5["C"])
    assert t6["efficient"] == t5["D"]  # Table 6 starts where Table 5 ends
    assert p["+ cosine decay"]["effect"] == pytest.approx(t6["+ cosine decay"] - t6["efficient"])
    assert p["+ mixup"]["effect"] == pytest.approx(t6["+ mixup w/o distill"] - t6["+ label smoothing"])
    assert p["+ distillation"]["effect"] == pytest.approx(t6["+ distill w/ mixup"] - t6["+ mixup w/o distill"])
    assert all(0 < abs(r["effect"]) < 1 for label, r in p.items() if label != "linear scaling")
    lb = ablation.paper_large_batch()
    assert lb["warmup"] == pytest.approx(75.93 - 75.17)
    assert lb["gap_linear"] == pytest.approx(75.17 - 75.87)
    assert lb["gap_warmup"] == pytest.approx(75.93 - 76.03)


def test_train_arm_scores_the_whole_test_set_and_pairs_by_seed():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        cfg = _cfg()
        rows = dict(ablation.chain(cfg, None))
        a = ablation.train_arm(cfg, 0, curve=True, **rows["+ zero γ"])
        b = ablation.train_arm(cfg, 0, **rows["+ zero γ"])
        assert a.n_test == 60 and 0.0 <= a.test_acc <= 1.0 and ablation.accuracy([a])[0] == 100 * a.test_acc and a.n_curve == 60
        assert len(a.history.test_acc) == cfg.epochs and b.history.test_acc == []  # no curve: no per-epoch pass
        assert a.test_acc == b.test_acc  # the curve only watches: same training
        assert a.images == cfg.epochs * cfg.n_train and a.images_per_s > 0
        assert a.history.config["model_kwargs"] == {"zero_gamma": True}
        assert a.history.config["augment"] is False  # digits: no augmentation (ablation.AUGMENTED)
        arm, net = ablation.train_arm(cfg, 1, model="resnet20", epochs=1, return_model=True, **rows["linear scaling"])
        assert isinstance(net, models.CifarResNet) and len(net.blocks) == 9
        with pytest.raises(ConfigError, match="unknown arm setting"):
            ablation.train_arm(cfg, 0, batch_sizes=3)
    finally:
        torch.set_default_dtype(old)
