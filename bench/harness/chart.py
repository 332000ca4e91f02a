"""chart.png: every row's CPU per operation and throughput of every loop
relative to that row's best peer (the vertical line at 1), on log axes."""
from __future__ import annotations

from pathlib import Path

from .results import LOOPS, Results

COLORS = {"asyncio": "#9a9a9a", "uvloop": "#3f7fbf", "rloop": "#d9822b", "rsloop": "#b5446e",
          "zuvloop": "#7a5fb0", "goloop": "#00a39a"}


def draw(res: Results, path: Path) -> bool:
    """Draw the chart; False (and nothing drawn) when no row has a peer."""
    rows = [row for row in res.rows if row.group in ("echo", "http", "micro")
            and row.best_peer("cpu") is not None]
    if not rows:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    loops = [loop for loop in LOOPS if any(loop in row.cells for row in rows)]
    fig, axes = plt.subplots(1, 2, figsize=(15, 2.2 + 0.095 * len(loops) * len(rows)), sharey=True)
    height = 0.84 / max(len(loops), 1)
    panels = ((axes[0], "cpu", "CPU per operation ÷ best peer  (left of 1 = cheaper)"),
              (axes[1], "ops", "throughput ÷ best peer  (right of 1 = faster)"))
    for ax, metric, title in panels:
        ax.set_xscale("log", base=2)
        for k, loop in enumerate(loops):
            for i, row in enumerate(rows):
                y = i + (k - (len(loops) - 1) / 2) * height
                best = row.best_peer(metric)
                value = row.ratio(metric, loop, best) if best else None
                if value is None:
                    if loop in row.cells and row.cells[loop].errors:
                        ax.text(1.02, y, f"{loop} failed", va="center", fontsize=6, color="red")
                    continue
                ax.barh(y, value - 1, left=1, height=height, color=COLORS[loop],
                        label=loop if i == 0 else None)
                if value == 1.0:   # the best peer itself: a dot, its bar has no length
                    ax.plot(1.0, y, marker="o", markersize=3, color=COLORS[loop])
                ax.text(value, y, f" {value:.2f} ", va="center", fontsize=5.5,
                        ha="left" if value >= 1 else "right")
        ax.axvline(1.0, color="black", linewidth=1)
        ax.set_title(title, fontsize=11)
        ax.grid(axis="x", alpha=0.3, which="both")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
        lo, hi = ax.get_xlim()
        ax.set_xlim(min(lo, 0.5) / 1.4, max(hi, 2.0) * 1.4)
    axes[0].set_yticks(range(len(rows)))
    axes[0].set_yticklabels([f"{row.group}: {row.name}" for row in rows], fontsize=9)
    axes[0].invert_yaxis()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(loops), fontsize=9, frameon=False)
    env = res.env
    versions = env.get("loops", {})
    names = ", ".join(f"{loop} {versions.get(loop, {}).get('version', '?')}" for loop in loops
                      if loop != "asyncio")
    fig.suptitle(f"Every loop relative to the best peer of each row (= 1) — Python {env.get('python')}, "
                 f"{env.get('cpus')} shared CPUs, median of {res.config.get('rounds')} rounds\n{names}",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.02, 1, 0.955))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
