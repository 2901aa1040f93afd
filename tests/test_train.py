import math

import pytest
import torch

from sclib import train
from sclib.errors import ConfigError

RUN = dict(dataset="digits", model="simple", epochs=3, batch_size=64, lr=0.05,
           schedule={"kind": "onecycle"}, progress=False)


def test_two_seeded_runs_are_identical():
    a, b = train.run(seed=1, **RUN), train.run(seed=1, **RUN)
    assert a.loss == b.loss and a.test_acc == b.test_acc and a.lr == b.lr
    c = train.run(seed=2, **RUN)
    assert c.loss != a.loss


def test_history_records_schedule_and_metrics():
    h = train.run(seed=0, **RUN)
    n = 3 * h.steps_per_epoch
    assert len(h.lr) == len(h.momentum) == len(h.loss) == n
    assert h.epoch == [1, 2, 3] and len(h.test_acc) == 3
    # the peak falls between two iterations when 0.45 * total is not whole
    assert max(h.lr) == pytest.approx(0.05, rel=0.01) and min(h.momentum) == pytest.approx(0.85, abs=1e-3)
    assert h.test_acc[-1] > 0.9
    assert train.History.from_dict(h.to_dict()) == h


def test_resume_from_checkpoint_gives_same_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("SCLIB_RUNS", "off")  # the explicit checkpoint is under test, not the store
    ref = train.run(seed=0, **RUN)
    ck = tmp_path / "run.pt"
    calls = {"n": 0}
    real = train.evaluate

    def dies_in_epoch_2(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # stands in for kill -9 after epoch 1's checkpoint
        return real(*a, **k)

    monkeypatch.setattr(train, "evaluate", dies_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train.run(seed=0, checkpoint=ck, **RUN)
    monkeypatch.setattr(train, "evaluate", real)
    assert ck.exists()
    resumed = train.run(seed=0, checkpoint=ck, **RUN)
    assert resumed.epoch == [1, 2, 3]
    assert resumed.loss == ref.loss and resumed.test_acc == ref.test_acc


def test_checkpoint_of_other_config_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("SCLIB_RUNS", "off")  # a run stored by an earlier test would skip the checkpoint
    ck = tmp_path / "run.pt"
    train.run(seed=0, checkpoint=ck, **RUN)
    other = train.run(seed=0, checkpoint=ck, **dict(RUN, lr=0.02))
    assert other.test_acc == train.run(seed=0, **dict(RUN, lr=0.02)).test_acc


def test_divergence_is_recorded_not_raised():
    h = train.run(seed=0, **dict(RUN, lr=1e6, schedule="constant"))
    assert h.diverged
    assert len(h.epoch) <= 3


@pytest.mark.parametrize("kw, word", [
    (dict(lr=0), "lr"), (dict(lr=-1.0), "lr"), (dict(epochs=0), "epochs"),
    (dict(batch_size=0), "batch_size"), (dict(batch_size=10**6), "batch_size"),
    (dict(momentum=1.0), "momentum"), (dict(label_smoothing=1.0), "label_smoothing"),
    (dict(optimizer="lion"), "optimizer"), (dict(model="resnet9000"), "model"),
    (dict(dataset="mnist"), "name"), (dict(epochs=2.5), "epochs"),
])
def test_bad_input_names_the_parameter(kw, word):
    with pytest.raises(ConfigError, match=word):
        train.run(seed=0, **dict(RUN, **kw))


def _digits(bs=64):
    tr, te = train.load_batches("digits", batch_size=bs, n_train=512, seed=0, device="cpu")
    return tr, te


def test_max_steps_ends_mid_epoch_and_the_schedule_spans_it():
    from sclib import models

    tr, te = _digits()  # 8 steps per epoch
    train.seed_everything(0)
    h = train.fit(models.create("simple", 10, 1), tr, te, epochs=5, lr=0.1, max_steps=11,
                  schedule="cosine", progress=False)
    assert len(h.loss) == 11 and h.epoch == [1, 2] and len(h.test_acc) == 2
    assert h.lr[-1] < h.lr[0] and h.config["max_steps"] == 11
    with pytest.raises(ConfigError, match="max_steps"):
        train.fit(models.create("simple", 10, 1), tr, epochs=1, lr=0.1, max_steps=0, progress=False)


def test_hooks_see_every_step_and_can_stop_the_run():
    from sclib import models

    tr, te = _digits()
    seen = []

    def on_step(i, loss, lr):
        seen.append((i, loss, lr))
        return i == 4  # stop after the fifth step

    train.seed_everything(0)
    h = train.fit(models.create("simple", 10, 1), tr, te, epochs=3, lr=0.1, on_step=on_step, progress=False)
    assert [s[0] for s in seen] == [0, 1, 2, 3, 4] and h.loss == [s[1] for s in seen]
    assert h.lr == [s[2] for s in seen] and h.epoch == [1]
    epochs = []
    train.seed_everything(0)
    h = train.fit(models.create("simple", 10, 1), tr, te, epochs=4, lr=0.1, progress=False,
                  on_epoch=lambda hist: epochs.append(len(hist.epoch)) or len(hist.epoch) == 2)
    assert epochs == [1, 2] and h.epoch == [1, 2]


def test_hooks_do_not_change_the_numbers():
    from sclib import models

    tr, te = _digits()
    train.seed_everything(0)
    a = train.fit(models.create("simple", 10, 1), tr, te, epochs=2, lr=0.1, progress=False)
    train.seed_everything(0)
    b = train.fit(models.create("simple", 10, 1), tr, te, epochs=2, lr=0.1, progress=False,
                  on_step=lambda *a: False, on_epoch=lambda h: False, max_steps=10_000)
    assert a.loss == b.loss and a.test_acc == b.test_acc


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_low_precision_trains_like_fp32_on_cpu(precision):
    # the GPU path's autocast, checked for numerics on CPU (torch autocasts on CPU too)
    kw = dict(dataset="digits", model="simple", epochs=3, batch_size=64, lr=0.05, seed=0,
              schedule={"kind": "onecycle"}, progress=False, device="cpu")
    a = train.run(**kw)
    b = train.run(precision=precision, **kw)
    assert b.config["precision"] == precision and "precision" not in a.config
    assert b.loss != a.loss                                # it did compute in low precision
    assert abs(b.test_acc[-1] - a.test_acc[-1]) < 0.03 and b.test_acc[-1] > 0.9
    with pytest.raises(ConfigError, match="precision"):
        train.run(precision="fp8", **kw)
