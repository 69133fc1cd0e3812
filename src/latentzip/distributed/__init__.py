"""Scale out on Dask: train and compress sharded data on a cluster.

>>> from latentzip.distributed import connect, fit, compress, decompress
>>> with connect(workers=2) as client:                          # doctest: +SKIP
...     model = fit(client, "shards/", HCLTConfig.quick())
...     blob = compress(client, "shards/", model)
...     decompress(client, blob, model, out="restored/")

``connect(scheduler="tcp://host:8786")`` uses an existing cluster instead; the workers must
see the shard files under the same paths (a shared file system).
"""

from latentzip.distributed.cluster import connect
from latentzip.distributed.codec import compress, decompress
from latentzip.distributed.shards import find_shards, load_shard
from latentzip.distributed.train import bits_per_dim, fit

__all__ = ["bits_per_dim", "compress", "connect", "decompress", "find_shards", "fit", "load_shard"]
