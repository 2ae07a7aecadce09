"""The worker's matplotlib backend: Agg drawing, and `plt.show()` shows the open figures.

Named in the worker's MPLBACKEND (`module://codemode.sandbox._mpl_backend`), so matplotlib
loads it only when a cell imports pyplot; the worker itself never imports matplotlib. Shaped
as matplotlib-inline's backend: figures show as PNG display outputs, then close.
"""

from __future__ import annotations

from typing import Any

from matplotlib._pylab_helpers import Gcf
from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg

from codemode.sandbox import _display

FigureCanvas = FigureCanvasAgg
FigureManager = FigureManagerBase


def show(*args: Any, **kwargs: Any) -> None:
    """Show every open figure in the cell's output, then close them (as the inline backend)."""
    _display.show_figures([manager.canvas.figure for manager in Gcf.get_all_fig_managers()])
    Gcf.destroy_all()
