"""Pictures of what a model did: attention heat maps (matplotlib, PNG)."""

import os
import textwrap

import numpy as np


def attention_heatmap(weights, source_tokens, target_tokens, path,
                      title=None):
    """Writes a heat map of attention weights to a PNG file.

    Rows are the output (target) tokens, columns the source tokens; a
    cell's shade is the weight the output token gave the source token. An
    empty side is drawn as one blank row or column labelled "(empty)".

    Args:
        weights: Array `[len(target_tokens), len(source_tokens)]`, each row
            summing to at most 1.
        source_tokens: The column labels (str).
        target_tokens: The row labels (str).
        path: The PNG file to write; its folder is created if needed.
        title: Optional title.

    Returns:
        `path`.

    Raises:
        ValueError: `weights` does not have one row per target token and
            one column per source token.
    """
    weights = np.asarray(weights, dtype=np.float32)
    expected = (len(target_tokens), len(source_tokens))
    if weights.shape != expected:
        raise ValueError(
            f"Received attention weights of shape {weights.shape}, expected "
            f"{expected} (target tokens x source tokens)"
        )
    # Imported here: only runs that draw need them. A bare Figure with the
    # Agg canvas draws to files without touching pyplot's global backend.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    target_tokens, source_tokens = list(target_tokens), list(source_tokens)
    if not target_tokens:  # An empty translation: one blank row.
        weights, target_tokens = np.zeros((1, weights.shape[1])), ["(empty)"]
    if not source_tokens:  # An empty source: one blank column.
        weights, source_tokens = np.zeros((weights.shape[0], 1)), ["(empty)"]
    rows, columns = weights.shape
    figure = Figure(figsize=(1.5 + 0.35 * columns, 1.2 + 0.35 * rows))
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    image = axes.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0,
                        aspect="auto")
    axes.set_xticks(range(columns), labels=source_tokens, rotation=90)
    axes.set_yticks(range(rows), labels=target_tokens)
    axes.set_xlabel("source")
    axes.set_ylabel("output")
    if title:
        axes.set_title(textwrap.fill(title, 70), fontsize=9)
    figure.colorbar(image, ax=axes, fraction=0.05)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    # "tight": the labels and title fit, however long.
    figure.savefig(path, format="png", dpi=100, bbox_inches="tight")
    return path


def explained_heatmaps(explained, folder):
    """Heat maps of explained translations, `<folder>/<i>.png` for row `i`.

    Args:
        explained: `zoo.models.Translator.explain`'s outputs, as tensors or
            arrays: `translation` `[N]`, `source_tokens` `[N, S]`,
            `output_tokens` `[N, T]` (bytes, "" = padding) and `attention`
            `[N, T, S]`.
        folder: Where the PNG files go (created if needed).

    Returns:
        The paths written, one per row.
    """
    found = {key: np.asarray(value) for key, value in explained.items()}
    paths = []
    for i, title in enumerate(found["translation"]):
        source = [t.decode() for t in found["source_tokens"][i] if t]
        output = [t.decode() for t in found["output_tokens"][i] if t]
        paths.append(attention_heatmap(
            found["attention"][i][:len(output), :len(source)], source, output,
            os.path.join(folder, f"{i}.png"), title=title.decode()))
    return paths
