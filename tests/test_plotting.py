"""sclib.plotting: every figure fits the book's text column."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from sclib import plotting  # noqa: E402


@pytest.fixture(autouse=True)
def _style():
    plotting.set_style()
    yield
    plt.close("all")


def _px(fig):
    return tuple(round(v) for v in fig.get_size_inches() * fig.dpi)


def test_subplots_narrows_a_wide_figure_and_keeps_a_narrow_one():
    fig, axes = plotting.subplots(1, 3, figsize=(16, 4.2))
    assert _px(fig) == (plotting.MAX_WIDTH_PX, round(4.2 * plotting.DPI)) and axes.shape == (3,)
    fig, ax = plotting.subplots(figsize=(6, 3))
    assert _px(fig) == (540, 270) and not hasattr(ax, "shape")  # squeeze as plt.subplots


@pytest.mark.parametrize("n, rows, cols", [(1, 1, 1), (2, 1, 2), (3, 1, 3), (4, 2, 3), (5, 2, 3), (7, 3, 3)])
def test_panels_wrap_into_rows_within_the_column(n, rows, cols):
    fig, axes = plotting.panels(n)
    assert len(axes) == n and axes.ndim == 1
    grid = axes[0].get_subplotspec().get_gridspec()
    assert (grid.nrows, grid.ncols) == (rows, cols)
    assert _px(fig)[0] <= plotting.MAX_WIDTH_PX
    assert sum(ax.get_visible() for ax in fig.axes) == n  # the unused slots are hidden


def test_panels_take_fewer_columns_when_wide_panels_would_be_squeezed():
    fig, axes = plotting.panels(3, panel=(6.0, 3.0))  # 3 × 6 in would be 18 in: 2 per row
    assert axes[0].get_subplotspec().get_gridspec().ncols == 2
    assert _px(fig)[0] <= plotting.MAX_WIDTH_PX
