"""Connecting to a Dask cluster: an existing scheduler, or an embedded local one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from latentzip.errors import LatentzipError


@contextmanager
def connect(
    scheduler: str | None = None, workers: int | None = None, *, timeout: float = 30.0
) -> Iterator:
    """A :class:`distributed.Client` for the duration of a ``with`` block.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    workers : int, optional
        Without ``scheduler``: start a loopback ``LocalCluster`` of this many single-threaded
        worker processes (default 1) and shut it down on exit.
    timeout : float
        Seconds to wait for the scheduler to answer.

    Yields
    ------
    distributed.Client
    """
    from distributed import Client, LocalCluster

    if scheduler is not None and workers is not None:
        raise LatentzipError("give either a scheduler address or a number of local workers")
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=timeout)
        except OSError as exc:
            raise LatentzipError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from exc
        with client:
            yield client
        return
    n = 1 if workers is None else int(workers)
    if n < 1:
        raise LatentzipError(f"--workers must be at least 1, got {n}")
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster, timeout=timeout) as client,
    ):
        yield client
