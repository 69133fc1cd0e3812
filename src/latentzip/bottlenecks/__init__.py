"""Information bottlenecks on feature layers (torch modules)."""

__all__: list[str] = []
