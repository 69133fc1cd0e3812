"""EM and compression throughput on a local Dask cluster with 1 and 2 workers, side by side.

    python benchmarks/dask_scaling.py                     # MNIST shards if ../shared/data has it
    python benchmarks/dask_scaling.py --records 4096 --shards 8 --latents 16

The records are written as ``.npy`` shards to a temporary folder (MNIST training images, or
scikit-learn's digits tiled when MNIST is absent). For each cluster size the workers load the
shards once; we then time full-batch EM epochs (E-step on the workers, pairwise sums, M-step on
the client) and the distributed compression of every shard into one container (round trip
checked). The same structure and initial circuit are used for every cluster size, and a
single-process full-batch epoch is timed for reference. Writes benchmarks/results/dask_scaling.*.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from common import SHARED, machine, write_results

from latentzip.circuits import HCLT, HCLTConfig, em
from latentzip.circuits.codec import CodecConfig, decompress
from latentzip.distributed import compress, connect
from latentzip.distributed.shards import load_shard
from latentzip.distributed.train import expected_counts, initialise


def load_records(n: int) -> tuple[str, np.ndarray]:
    mnist = SHARED / "mnist" / "train-images-idx3-ubyte.gz"
    if mnist.exists():
        from latentzip.data import load

        return "MNIST", load(mnist).data.reshape(-1, 28, 28)[:n]
    from latentzip.data import load_digits

    digits = (load_digits().data.reshape(-1, 8, 8) * 15).astype(np.uint8)
    return "digits x15 (tiled)", np.resize(digits, (n, 8, 8))


def measure(n_workers: int, paths: list[Path], cfg: HCLTConfig, epochs: int, circuit=None):
    with connect(workers=n_workers) as client:
        data = client.map(load_shard, paths)
        client.gather(data)
        if circuit is None:
            circuit, _ = initialise(client, data, cfg)
        expected_counts(client, data, circuit, cfg.eval_batch_size)  # warm-up
        start = time.perf_counter()
        model = circuit
        for _ in range(epochs):
            _, counts = expected_counts(client, data, model, cfg.eval_batch_size)
            model = em.replace(model, em.maximise(model, counts, cfg.pseudocount))
        em_seconds = (time.perf_counter() - start) / epochs
        compress(client, paths[:1], circuit)  # warm-up: numba kernels load on every worker
        start = time.perf_counter()
        blob = compress(client, paths, circuit, CodecConfig())
        codec_seconds = time.perf_counter() - start
    return circuit, model, em_seconds, codec_seconds, blob


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=4096)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--latents", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2, help="timed EM epochs per cluster")
    args = parser.parse_args()
    name, images = load_records(args.records)
    n = len(images)
    # few bins: the structure step ships (D * bins)^2 joint counts; it is not timed here
    cfg = HCLTConfig(n_latents=args.latents, mi_bins=4, mi_records=2000)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, part in enumerate(np.array_split(images, args.shards)):
            paths.append(Path(tmp) / f"part-{i:03d}.npy")
            np.save(paths[-1], part)
        circuit = None
        results = {}
        for workers in (1, 2):
            circuit, model, em_s, codec_s, blob = measure(workers, paths, cfg, args.epochs, circuit)
            assert np.array_equal(decompress(blob, circuit), images), "round trip failed"
            results[workers] = (model, em_s, codec_s, len(blob))
        # the same parameters whatever the cluster size (sums are paired in shard order)
        same = all(
            np.array_equal(getattr(results[1][0], k), getattr(results[2][0], k))
            for k in ("prior", "edges", "leaves")
        )
        ref = HCLT(cfg)
        x = images.reshape(n, -1).astype(np.int64)
        ref._full_batch_epoch(circuit, x, False, 0)  # warm-up
        start = time.perf_counter()
        ref._full_batch_epoch(circuit, x, False, 0)
        single_em = time.perf_counter() - start
    for workers, (_, em_s, codec_s, size) in results.items():
        rows.append(
            {
                "workers": workers,
                "em_records_per_s": n / em_s,
                "em_seconds_per_epoch": em_s,
                "compress_records_per_s": n / codec_s,
                "compress_seconds": codec_s,
                "bits_per_dim": 8 * size / images.size,
            }
        )
    em_ratio = rows[1]["em_records_per_s"] / rows[0]["em_records_per_s"]
    codec_ratio = rows[1]["compress_records_per_s"] / rows[0]["compress_records_per_s"]
    payload = {
        "dataset": name,
        "records": n,
        "shards": args.shards,
        "n_latents": args.latents,
        "timed_em_epochs": args.epochs,
        "single_process_em_records_per_s": n / single_em,
        "rows": rows,
        "scaling_ratio": {"em": em_ratio, "compress": codec_ratio},
        "same_parameters_1_vs_2_workers": same,
        "machine": machine(),
    }
    table = "\n".join(
        [
            f"{name}, {n} records in {args.shards} shards, HCLT K={args.latents}; "
            f"{machine()['cores']} cores",
            "",
            "| | 1 worker | 2 workers | ratio |",
            "|---|---:|---:|---:|",
            f"| full-batch EM (records/s) | {rows[0]['em_records_per_s']:,.0f} | "
            f"{rows[1]['em_records_per_s']:,.0f} | {em_ratio:.2f}x |",
            f"| compression (records/s) | {rows[0]['compress_records_per_s']:,.0f} | "
            f"{rows[1]['compress_records_per_s']:,.0f} | {codec_ratio:.2f}x |",
            "",
            f"Single process, no Dask: {n / single_em:,.0f} records/s full-batch EM. "
            f"Parameters identical with 1 and 2 workers: {'yes' if same else 'no'}.",
        ]
    )
    write_results("dask_scaling", payload, table)


if __name__ == "__main__":
    main()
