"""Tests for zoo.plots: attention heat maps as PNG files."""

import numpy as np
import pytest

from zoo import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_heatmap_writes_a_png_and_creates_its_folder(tmp_path):
    weights = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0]])
    path = str(tmp_path / "new" / "folder" / "0.png")
    result = plots.attention_heatmap(
        weights, ["la", "casa", "."], ["the", "house"], path, title="t"
    )
    assert result == path
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC


def test_heatmap_size_grows_with_the_sentences(tmp_path):
    import matplotlib.image

    small = plots.attention_heatmap(
        np.ones((1, 1)), ["a"], ["b"], str(tmp_path / "small.png")
    )
    large = plots.attention_heatmap(
        np.full((12, 20), 0.05), [f"s{i}" for i in range(20)],
        [f"t{i}" for i in range(12)], str(tmp_path / "large.png"),
    )
    small_shape = matplotlib.image.imread(small).shape
    large_shape = matplotlib.image.imread(large).shape
    assert large_shape[0] > small_shape[0] and large_shape[1] > small_shape[1]


@pytest.mark.parametrize("shape, source, target", [
    ((0, 2), ["a", "b"], []), ((2, 0), [], ["x", "y"]), ((0, 0), [], []),
])
def test_heatmap_of_an_empty_side_still_draws(tmp_path, shape, source,
                                               target, recwarn):
    path = plots.attention_heatmap(
        np.zeros(shape), source, target, str(tmp_path / "empty.png")
    )
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    assert not [w for w in recwarn if "singular" in str(w.message)]


def test_heatmap_rejects_weights_that_do_not_match_the_tokens(tmp_path):
    with pytest.raises(ValueError, match=r"shape \(2, 3\), expected \(3, 2\) "
                       r"\(target tokens x source tokens\)"):
        plots.attention_heatmap(
            np.zeros((2, 3)), ["a", "b"], ["x", "y", "z"],
            str(tmp_path / "x.png"),
        )
    assert not (tmp_path / "x.png").exists()


def test_heatmap_with_a_long_title_and_labels_warns_nothing(tmp_path,
                                                            recwarn):
    plots.attention_heatmap(
        np.full((2, 2), 0.5), ["x" * 40, "y"], ["z" * 40, "w"],
        str(tmp_path / "long.png"), title="a long title " * 30,
    )
    assert [str(w.message) for w in recwarn] == []


def test_explained_heatmaps_draw_one_file_per_row(tmp_path):
    explained = {
        "translation": np.array([b"hola .", b""]),
        "source_tokens": np.array([[b"hello", b"."], [b"", b""]]),
        "output_tokens": np.array([[b"hola", b"."], [b"", b""]]),
        "attention": np.array([[[0.9, 0.1], [0.2, 0.8]], np.zeros((2, 2))],
                              np.float32),
    }
    paths = plots.explained_heatmaps(explained, str(tmp_path / "maps"))
    assert paths == [str(tmp_path / "maps" / "0.png"),
                     str(tmp_path / "maps" / "1.png")]
    for path in paths:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
