"""Information bottlenecks on feature layers (torch modules)."""

from latentzip.bottlenecks.dropout import Dropout, NestedDropout
from latentzip.bottlenecks.key_value import KeyValueBottleneck, ema_kmeans

__all__: list[str] = ["Dropout", "KeyValueBottleneck", "NestedDropout", "ema_kmeans"]
