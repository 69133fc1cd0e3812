# ruff: noqa: F811  -- pytest fixtures imported from dist_fixtures are parameter names
"""The CLI against a real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1.

One worker is killed (SIGKILL) while ``latentzip train`` runs; Dask recomputes what it held
on the other worker and the job still ends with the exact single-process parameters.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from dist_fixtures import images, shard_writer, shards  # noqa: F401  (fixtures)

from latentzip.circuits import HCLT, HCLTConfig
from latentzip.circuits.codec import decompress
from latentzip.cli import main
from latentzip.coding import modelfile

K, EPOCHS = 8, 4
TILES = 3  # 5,391 records in 6 shards: the kill lands in the first epoch, 3 remain


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DaskProcesses:
    """A scheduler and workers as subprocesses; every one is stopped by :meth:`close`."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen] = []
        self.logs: list = []
        self.address = f"tcp://127.0.0.1:{free_port()}"
        port = self.address.rsplit(":", 1)[1]
        self._spawn("scheduler", "scheduler", "--host", "127.0.0.1", "--port", port)

    def _spawn(self, name: str, *args: str) -> subprocess.Popen:
        log = (self.log_dir / f"{name}-{len(self.procs)}.log").open("wb")
        self.logs.append(log)
        proc = subprocess.Popen(
            [sys.executable, "-m", "dask", *args, "--no-dashboard"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def add_worker(self) -> subprocess.Popen:
        proc = self._spawn(
            "worker",
            "worker",
            self.address,
            "--nworkers",
            "1",
            "--nthreads",
            "1",
            "--no-nanny",  # a killed worker stays dead instead of being restarted
            "--host",
            "127.0.0.1",
        )
        return proc

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:  # a worker without a nanny can hang in its shutdown: do not wait long
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self.logs:
            log.close()


@pytest.fixture
def dask_cluster(tmp_path):
    cluster = DaskProcesses(tmp_path)
    try:
        yield cluster
    finally:
        cluster.close()


def wait_for_workers(client, n: int, timeout: float = 60) -> dict[str, int]:
    """Worker address -> process id, once ``n`` workers are connected."""
    client.wait_for_workers(n, timeout=timeout)
    return client.run(os.getpid)


def run_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "latentzip.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen, timeout: float = 180) -> str:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    assert proc.returncode == 0, err
    return out


def test_cli_on_real_cluster_survives_a_killed_worker(dask_cluster, tmp_path, images, shard_writer):
    from distributed import Client

    images = np.tile(images, (TILES, 1, 1))
    shards = shard_writer(tmp_path, images, bounds=tuple(np.linspace(0, len(images), 7, dtype=int)))
    victim = dask_cluster.add_worker()
    dask_cluster.add_worker()
    model_path, lz = tmp_path / "model.npz", tmp_path / "data.lz"
    train_args = ["--config", "quick", "--latents", str(K), "--epochs", "0"]
    train_args += ["--full-batch-epochs", str(EPOCHS), "--seed", "3", "-q"]
    with Client(dask_cluster.address, timeout=60) as client:
        pids = wait_for_workers(client, 2)
        victim_addr = next(a for a, pid in pids.items() if pid == victim.pid)
        train = run_cli(
            "train",
            str(shards),
            "-o",
            str(model_path),
            "--float-model",
            str(model_path.with_suffix(".float")),
            "--scheduler",
            dask_cluster.address,
            *train_args,
        )
        # wait until the victim is busy with an EM step of the job, then kill it
        deadline = time.monotonic() + 120
        while not any("_shard_counts" in str(k) for k in client.processing()[victim_addr]):
            assert train.poll() is None, train.communicate()
            assert time.monotonic() < deadline, "the job never reached the EM epochs"
            time.sleep(0.02)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        assert train.poll() is None, "the job ended before the worker was killed"
        out = finish(train)
        assert f"{EPOCHS} full-batch EM epochs" in out
        assert victim_addr not in client.scheduler_info()["workers"]

        # the parameters are those of single-process full-batch EM on all the records
        cfg = HCLTConfig.quick(n_latents=K, epochs=0, full_batch_epochs=EPOCHS, seed=3)
        ref = HCLT(cfg).fit(images.reshape(len(images), -1), 256, progress=False).circuit_
        got = HCLT.load(model_path.with_suffix(".float")).circuit_
        assert np.array_equal(got.tree.parent, ref.tree.parent)
        for name in ("prior", "edges", "leaves"):
            np.testing.assert_allclose(getattr(got, name), getattr(ref, name), rtol=0, atol=1e-9)

        # a replacement worker joins; compress and decompress on the two workers
        dask_cluster.add_worker()
        wait_for_workers(client, 2)
    out = finish(
        run_cli(
            "compress",
            str(shards),
            "-m",
            str(model_path),
            "-o",
            str(lz),
            "--scheduler",
            dask_cluster.address,
        )
    )
    assert "6 shards" in out and "on 2 workers" in out
    blob = lz.read_bytes()
    assert np.array_equal(decompress(blob, modelfile.load(model_path)[0]), images)
    restored = tmp_path / "restored"
    finish(
        run_cli(
            "decompress",
            str(lz),
            "-m",
            str(model_path),
            "-o",
            str(restored),
            "--scheduler",
            dask_cluster.address,
        )
    )
    assert sorted(p.name for p in restored.iterdir()) == [
        "part-0.idx",
        "part-1.npy",
        "part-2",
        "part-3.idx",
        "part-4.npy",
        "part-5",
    ]
    assert (restored / "part-4.npy").read_bytes() == (shards / "part-4.npy").read_bytes()


def test_cli_local_workers(tmp_path, capsys, images, shards):
    model = tmp_path / "m.npz"
    args = ["--config", "quick", "--latents", "4", "--epochs", "0", "--full-batch-epochs", "2"]
    assert main(["train", str(shards), "-o", str(model), "--workers", "2", "-q", *args]) == 0
    assert "train bits/dim" in capsys.readouterr().out
    lz = tmp_path / "d.lz"
    glob = f"{shards}/part-*"
    assert main(["compress", glob, "-m", str(model), "--workers", "2"]) == 2
    assert "-o" in capsys.readouterr().err
    assert main(["compress", glob, "-m", str(model), "-o", str(lz), "--workers", "2"]) == 0
    assert np.array_equal(decompress(lz.read_bytes(), modelfile.load(model)[0]), images)
    out = tmp_path / "array.npy"
    plain = tmp_path / "plain.lz"
    np.save(tmp_path / "all.npy", images)
    assert main(["compress", str(tmp_path / "all.npy"), "-m", str(model), "-o", str(plain)]) == 0
    assert main(["decompress", str(plain), "-m", str(model), "-o", str(out), "--workers", "1"]) == 0
    assert out.read_bytes() == (tmp_path / "all.npy").read_bytes()
    none = str(tmp_path / "none-*.npy")
    assert main(["train", none, "-o", str(tmp_path / "m2.npz"), "--workers", "1"]) == 2
    assert "no shards" in capsys.readouterr().err
