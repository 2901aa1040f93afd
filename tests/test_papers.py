from pathlib import Path

import pytest

from sclib import papers

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def test_every_value_cites_a_seed_and_a_place():
    for key, v in papers.PAPER.items():
        assert v.seed in (papers.SEED_QUICKDRAW, papers.SEED_KTH, papers.SEED_PIPELINE,
                          papers.SEED_TRICKS), key
        assert v.where, key


@pytest.mark.skipif(not SEEDS.exists(), reason="../shared/seeds is not beside this clone")
def test_numbers_appear_in_their_seed():
    for key, v in papers.PAPER.items():
        text = (SEEDS / v.seed).read_text()
        if isinstance(v.value, float) and key.startswith(("quickdraw", "smith", "clr.")):
            s = f"{v.value:.5f}".rstrip("0").lstrip("0") if v.value < 1 else f"{v.value}"
            assert s in text, (key, s)


def test_unknown_key_lists_families():
    with pytest.raises(KeyError, match="kth"):
        papers.get("nope")
