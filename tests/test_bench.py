"""sclib.bench: the benchmark functions behind `make bench` and the performance page work and
report what they claim (speeds themselves are not tested: they are measurements)."""
import json
from types import SimpleNamespace

import nbformat
import pytest

from sclib import bench, profiles, runner


@pytest.fixture(scope="module")
def smoke():
    return profiles.resolve("performance", "smoke")


def test_cpu_options_rows(smoke):
    rows = bench.cpu_options(smoke, steps=1, compile=False, repeats=1)
    names = [r["option"] for r in rows]
    assert names[0].startswith("default") and "channels_last" in names
    assert rows[0]["speedup"] == 1.0
    assert all(r["img_s"] > 0 and r["speedup"] == r["img_s"] / rows[0]["img_s"] for r in rows)


def test_render_vs_train_ratio():
    qd = SimpleNamespace(image_size=16, line_width=1, color_by_order=True, n_classes=3, model="simple",
                         batch_size=8, device="cpu")
    r = bench.render_vs_train(qd, n_drawings=8, steps=1, min_seconds=0.01)
    assert r["render_per_core"] > 0 and r["train"] > 0
    assert r["ratio"] == pytest.approx(r["render_per_core"] / r["train"])
    assert r["cores_needed"] == pytest.approx(1 / r["ratio"])


def test_book_times_sums_the_recorded_seconds(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "BOOK", tmp_path)
    for name, sec in (("a", 60.0), ("b", 1500.5)):
        nb = nbformat.v4.new_notebook()
        nb.metadata["sclib"] = {"seconds": sec, "fingerprint": {"profile": "cpu"}}
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
    (tmp_path / "broken.ipynb").write_text("{not json")
    out = bench.book_times(build=False)
    assert set(out["pages"]) == {"a", "b"}
    assert out["execute_s"] == pytest.approx(1560.5)
    assert out["pages"]["b"]["profile"] == "cpu" and "full_build_s" not in out
    out = bench.book_times(build=False, exclude=("b",))
    assert set(out["pages"]) == {"a"} and out["execute_s"] == pytest.approx(60.0)


def test_fit_vs_loop_and_iterator(smoke):
    r = bench.fit_vs_loop(smoke, repeats=1)
    assert r["fit"] > 0 and r["loop"] > 0 and r["ratio"] == pytest.approx(r["fit"] / r["loop"])
    it = bench.iterator_vs_dataloader(smoke)
    assert it["ratio"] == pytest.approx(it["batches"] / it["dataloader"])


def test_main_prints_every_numbered_ratio(capsys, monkeypatch):
    monkeypatch.setattr(bench, "fit_vs_loop", lambda cfg: {"fit": 95.0, "loop": 100.0, "ratio": 0.95})
    monkeypatch.setattr(bench, "iterator_vs_dataloader", lambda cfg: {"batches": 10.0, "dataloader": 1.0, "ratio": 10.0})
    monkeypatch.setattr(bench, "render_vs_train", lambda qd: {"render_per_core": 1000.0, "train": 50.0, "ratio": 20.0,
                                                             "size": 32, "model": "resnet18"})
    monkeypatch.setattr(bench, "book_times", lambda build: {"pages": {"x": {"seconds": 600.0}}, "execute_s": 600.0,
                                                            "full_build_s": 30.0, "rebuild_s": 12.0})
    monkeypatch.setattr(bench, "cpu_options", lambda cfg, compile: [
        {"option": "default", "img_s": 100.0, "speedup": 1.0}])
    bench.main(["--profile", "smoke"])
    out = capsys.readouterr().out
    for needle in ("1. sclib.fit", "ratio 0.950", "2. Batches", "ratio 10.0", "3. rasterizer", "ratio 20.0",
                   "4. whole book", "10.5 min", "rebuild with nothing changed 12.0 s", "default"):
        assert needle in out, needle


def test_train_flops_counts_forward_and_backward():
    import torch

    m = torch.nn.Sequential(torch.nn.Linear(10, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    x, y = torch.randn(4, 10), torch.tensor([0, 1, 2, 0])
    fwd = 2 * 4 * 10 * 5 + 2 * 4 * 5 * 3
    # backward: both weight gradients, and the input gradient of the second layer only
    # (the input x needs none)
    assert bench.train_flops(m, x, y) == fwd + 2 * 4 * 10 * 5 + 2 * (2 * 4 * 5 * 3)
    assert all(p.grad is None for p in m.parameters())


def test_json_summary_keys_and_types(smoke):
    s = bench.summary(smoke, repeats=1, steps=1, matmul_n=64, sweep_runs=2, sweep_n_test=None)
    for k in ("fit_ratio", "old_setting_speedup", "machine_fraction", "sweep_speedup"):
        assert isinstance(s[k], float) and s[k] > 0, k
    assert {"cpu", "cores", "threads", "torch"} <= set(s["machine"])
    assert isinstance(s["machine"]["cpu"], str) and s["machine"]["threads"] == s["machine"]["cores"] >= 1
    m = s["measured"]
    assert s["fit_ratio"] == pytest.approx(m["fit_img_s"] / m["loop_img_s"])
    assert s["old_setting_speedup"] == pytest.approx(m["cpu_setting_img_s"] / m["old_setting_img_s"])
    assert s["machine_fraction"] == pytest.approx(m["train_gflops"] / m["matmul_gflops"])
    assert m["train_gflops"] == pytest.approx(m["cpu_setting_img_s"] * m["train_gflop_per_image"])
    assert s["sweep_speedup"] == pytest.approx(m["sweep"]["serial_s"] / m["sweep"]["processes_s"])
    assert m["sweep"]["runs"] == 2 and s["setting"]["channels_last"] is True
    assert json.loads(json.dumps(s)) == s


def test_main_json_prints_one_json_object(capsys, monkeypatch):
    fake = {"fit_ratio": 0.97, "old_setting_speedup": 2.1, "machine_fraction": 0.2, "sweep_speedup": 1.3,
            "machine": {"cpu": "x", "cores": 2, "threads": 2, "torch": "t"}}
    monkeypatch.setattr(bench, "summary", lambda cfg: fake)
    monkeypatch.setattr(bench, "fit_vs_loop", lambda *a, **k: pytest.fail("the text route ran"))
    bench.main(["--json", "--profile", "smoke"])
    assert json.loads(capsys.readouterr().out) == fake
