"""Scatter plots of projections (PNG or SVG), coloured by a metadata field or a cluster, with a few
labelled points and a legend. Hangul and other CJK labels render with a CJK font found on the
machine (``fc-list :lang=ko``, or matplotlib's font list); without one a warning says which package
to install (Debian: ``fonts-nanum``) instead of drawing boxes silently.

Nothing here touches matplotlib's global state: figures are drawn on an Agg canvas of their own.
"""

from __future__ import annotations

import functools
import logging
import re
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np

from ..errors import InvalidInput, require

__all__ = ["cjk_font", "scatter", "line_plot", "new_figure", "save_figure", "font_families"]

log = logging.getLogger(__name__)

_CJK = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u9fff\uac00-\ud7af]")
_KNOWN = ("NanumGothic", "NanumBarunGothic", "Noto Sans CJK KR", "Noto Sans KR", "Noto Sans CJK JP",
          "UnDotum", "Baekmuk Gulim", "Malgun Gothic", "AppleGothic", "Apple SD Gothic Neo")


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of a font with Hangul glyphs, registered with matplotlib; None if there is none."""
    require("matplotlib", "plot", "plots")
    from matplotlib import font_manager

    paths: list[str] = []
    try:
        out = subprocess.run(["fc-list", ":lang=ko", "file"], capture_output=True, text=True,
                             timeout=20, check=False).stdout
        paths = [line.split(":")[0].strip() for line in out.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        pass
    # Prefer a plain regular gothic (sans) face.
    paths.sort(key=lambda p: (("Gothic" not in p and "Sans" not in p), "Bold" in p or "Light" in p,
                              "Coding" in p, p))
    for path in paths:
        if path.lower().endswith((".ttf", ".otf", ".ttc")):
            try:
                font_manager.fontManager.addfont(path)
                return font_manager.FontProperties(fname=path).get_name()
            except (OSError, RuntimeError, ValueError):
                continue
    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in _KNOWN:
        if name in names:
            return name
    return None


def font_families(texts=()) -> list[str]:
    """The font family list for texts: DejaVu Sans first, a CJK font after it as fallback."""
    cjk = cjk_font()
    if cjk is None:
        if any(_CJK.search(str(t)) for t in texts):
            log.warning("no CJK font found: Hangul/CJK labels will show as boxes. Install one "
                        "(Debian/Ubuntu: apt-get install fonts-nanum; or any Noto Sans CJK font)")
        return ["DejaVu Sans"]
    return ["DejaVu Sans", cjk]


def new_figure(width: float = 8.0, height: float = 6.0, *, projection3d: bool = False, ncols: int = 1):
    """A matplotlib Figure on its own Agg canvas (no pyplot, no global backend change)."""
    require("matplotlib", "plot", "plots")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    if projection3d:
        axes = [fig.add_subplot(1, ncols, i + 1, projection="3d") for i in range(ncols)]
    else:
        axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, (axes[0] if ncols == 1 else axes)


def save_figure(fig, path, *, dpi: int = 100) -> Path:
    """Write a figure to ``.png`` or ``.svg`` (the format follows the file name)."""
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        raise InvalidInput(f"cannot write a plot to {path.name}: use a .png or .svg file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def _categories(values: list, top: int) -> tuple[list[str], list[str]]:
    """Category name per point, the kept categories in legend order (the rest become 'other')."""
    names = ["(none)" if v is None else str(v) for v in values]
    counts = Counter(names)
    keep = [c for c, _ in counts.most_common(top)]
    if len(counts) > top:
        kept = set(keep)
        names = [n if n in kept else "other" for n in names]
        keep.append("other")
    try:  # numeric-looking category names (cluster ids) in numeric order
        keep.sort(key=lambda c: (c in ("other", "(none)"), float(c) if c not in ("other", "(none)")
                                 else 0.0))
    except ValueError:
        pass
    return names, keep


def _label_points(coords: np.ndarray, count: int, seed: int) -> list[int]:
    """Indices of ``count`` points to label, spread over the map (farthest-point sampling)."""
    n = coords.shape[0]
    if count <= 0 or n == 0:
        return []
    if count >= n:
        return list(range(n))
    rng = np.random.default_rng(seed)
    chosen = [int(rng.integers(n))]
    d = np.linalg.norm(coords - coords[chosen[0]], axis=1)
    for _ in range(count - 1):
        i = int(np.argmax(d))
        chosen.append(i)
        d = np.minimum(d, np.linalg.norm(coords - coords[i], axis=1))
    return chosen


def scatter(projection, path=None, *, color_by: str | None = None, colors=None,
            annotate: int | list[str] = 20, title: str | None = None, legend: bool = True,
            max_categories: int = 20, point_size: float | None = None, seed: int = 0):
    """Draw a projection as a scatter plot; write it to ``path`` (.png or .svg) when given.

    Args:
        projection: a :class:`~embedkit.analysis.projection.Projection` (or an (n, 2|3) array).
        color_by: a metadata field (categorical: one colour each, the ``max_categories`` largest
            and 'other'; numeric: a colour scale), or ``"label"``.
        colors: one value per point to colour by instead (cluster ids, say).
        annotate: how many points to label (spread over the map), or the labels to show.
    Returns the matplotlib Figure.

    """
    from .projection import Projection

    if not isinstance(projection, Projection):
        arr = np.asarray(projection, dtype=np.float32)
        if arr.ndim != 2 or arr.shape[1] not in (2, 3):
            raise InvalidInput(f"scatter needs (n, 2) or (n, 3) coordinates, got shape {arr.shape}")
        projection = Projection(coords=arr, method="", dim=arr.shape[1], seed=0)
    coords = projection.coords
    n, dim = coords.shape
    labels = projection.labels
    values = None
    legend_title = color_by
    if colors is not None:
        values = list(colors)
        legend_title = legend_title or "cluster"
        if len(values) != n:
            raise InvalidInput(f"colors has {len(values)} values for {n} points")
    elif color_by:
        values = projection.field(color_by)
    if isinstance(annotate, int):
        which = _label_points(coords[:, :2], min(annotate, n) if labels else 0, seed)
    else:
        wanted = set(annotate)
        which = [i for i, lab in enumerate(labels or []) if lab in wanted]
    shown = [labels[i] for i in which] if labels else []
    legend_names = []
    import matplotlib

    with matplotlib.rc_context({"font.family": font_families(shown + [str(v) for v in (values or [])[:2000]]
                                                             + [title or ""]),
                                "axes.unicode_minus": False}):
        fig, ax = new_figure(8.0, 6.5, projection3d=dim == 3)
        size = point_size if point_size is not None else float(np.clip(3000 / max(n, 1), 0.3, 30))
        xyz = [coords[:, j] for j in range(dim)]
        numeric = values is not None and all(isinstance(v, (int, float, np.number)) and
                                             not isinstance(v, bool) for v in values
                                             if v is not None) and len(set(values)) > max_categories
        if values is None:
            ax.scatter(*xyz, s=size, c="#3b6ea8", alpha=0.7, linewidths=0)
        elif numeric:
            v = np.array([np.nan if x is None else float(x) for x in values])
            sc = ax.scatter(*xyz, s=size, c=v, cmap="viridis", alpha=0.8, linewidths=0)
            fig.colorbar(sc, ax=ax, label=color_by)
        else:
            names, keep = _categories(values, max_categories)
            from matplotlib import colormaps

            cmap = colormaps["tab10" if len(keep) <= 10 else "tab20"]
            arr = np.array(names, dtype=object)
            for i, cat in enumerate(keep):
                mask = arr == cat
                color = "#bbbbbb" if cat in ("other", "(none)", "-1") else cmap(i % cmap.N)
                ax.scatter(*[x[mask] for x in xyz], s=size, color=color, alpha=0.75, linewidths=0,
                           label=("noise" if cat == "-1" else cat) + f" ({int(mask.sum())})")
                legend_names.append(cat)
            if legend:
                ax.legend(title=legend_title, loc="best", fontsize=8, markerscale=max(1, 6 / size ** 0.5),
                          framealpha=0.8)
        for i in which:
            pos = [float(coords[i, j]) for j in range(dim)]
            if dim == 3:
                ax.text(*pos, str(labels[i]), fontsize=8)
            else:
                ax.annotate(str(labels[i]), pos, fontsize=8, xytext=(3, 3), textcoords="offset points")
        method = projection.method.upper().replace("TSNE", "t-SNE") if projection.method else ""
        ax.set_title(title or (f"{method} of {n:,} points" if method else f"{n:,} points"))
        ax.set_xticks([])
        ax.set_yticks([])
        if path is not None:
            save_figure(fig, path)
    return fig


def line_plot(series: dict[str, tuple], path=None, *, xlabel: str = "", ylabel: str = "",
              title: str = "", logx: bool = False, ax=None):
    """Lines from ``{name: (x, y)}``; write to ``path`` when given. Returns the Figure."""
    import matplotlib

    names = list(series) + [xlabel, ylabel, title]
    with matplotlib.rc_context({"font.family": font_families(names)}):
        fig = None
        if ax is None:
            fig, ax = new_figure(6.5, 4.5)
        for name, (x, y) in series.items():
            ax.plot(x, y, marker="o", markersize=3, label=name)
        if logx:
            ax.set_xscale("log", base=2)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=8)
        if path is not None and fig is not None:
            save_figure(fig, path)
    return fig if fig is not None else ax.figure
