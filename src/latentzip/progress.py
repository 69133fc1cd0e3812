"""Progress bars (tqdm) that advance once per step, with live values beside them.

``set_postfix`` refreshes the display by default, which restarts tqdm's refresh clock: with
steps shorter than the refresh interval the counter then never advances while the values
do. :func:`note` updates the values without that refresh.
"""

from __future__ import annotations

from tqdm.auto import tqdm

STREAM = None  # None: tqdm's default (stderr); tests substitute a buffer
MIN_INTERVAL = 0.1  # seconds between redraws


def bar(iterable=None, *, desc: str, enabled: bool = True, unit: str = "batch", **kw) -> tqdm:
    """A tqdm bar over ``iterable`` (or with ``total=``); cleared when done unless ``leave``."""
    kw.setdefault("leave", False)
    return tqdm(
        iterable,
        desc=desc,
        disable=not enabled,
        unit=unit,
        file=STREAM,
        mininterval=MIN_INTERVAL,
        **kw,
    )


def note(progress: tqdm, **values) -> None:
    """Show ``values`` beside the bar at its next redraw."""
    progress.set_postfix(values, refresh=False)
