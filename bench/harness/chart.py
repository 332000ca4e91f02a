"""chart.png: every row's throughput and CPU per operation of uvloop and
goloop relative to asyncio (the vertical line at 1), on log axes."""
from __future__ import annotations

from pathlib import Path

from .results import Results

COLORS = {"uvloop": "#3f7fbf", "goloop": "#00a39a"}


def draw(res: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    rows = [row for row in res.rows if row.cells.get("asyncio") and row.cells["asyncio"].ops]
    loops = [loop for loop in COLORS if any(loop in row.cells for row in rows)]
    fig, axes = plt.subplots(1, 2, figsize=(14, 1.4 + 0.42 * len(rows)), sharey=True)
    height = 0.8 / max(len(loops), 1)
    panels = ((axes[0], "ops", "throughput ÷ asyncio  (right of 1 = faster)"),
              (axes[1], "cpu", "CPU per operation ÷ asyncio  (left of 1 = cheaper)"))
    for ax, metric, title in panels:
        ax.set_xscale("log", base=2)
        for k, loop in enumerate(loops):
            for i, row in enumerate(rows):
                y = i + (k - (len(loops) - 1) / 2) * height
                value = row.ratio(metric, loop, "asyncio")
                if value is None:
                    if loop in row.cells:
                        ax.text(1.02, y, "FAIL", va="center", fontsize=7, color="red")
                    continue
                ax.barh(y, value - 1, left=1, height=height, color=COLORS[loop],
                        label=loop if i == 0 else None)
                ax.text(value, y, f" {value:.2f} ", va="center", fontsize=6.5,
                        ha="left" if value >= 1 else "right")
        ax.axvline(1.0, color="black", linewidth=1)
        ax.set_title(title, fontsize=11)
        ax.grid(axis="x", alpha=0.3, which="both")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
        lo, hi = ax.get_xlim()
        ax.set_xlim(min(lo, 0.5) / 1.3, max(hi, 2.0) * 1.3)
    axes[0].set_yticks(range(len(rows)))
    axes[0].set_yticklabels([f"{row.group}: {row.name}" for row in rows], fontsize=9)
    axes[0].invert_yaxis()
    axes[0].legend(loc="lower right")
    env = res.env
    fig.suptitle(f"goloop and uvloop relative to stdlib asyncio (= 1) — Python {env.get('python')}, "
                 f"{env.get('cpus')} shared CPUs, median of {res.config.get('rounds')} rounds", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
