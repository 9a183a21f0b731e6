"""The Ray backend: runtimes on the nodes of a Ray cluster (see docs/cluster.md)."""
