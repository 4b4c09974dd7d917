"""Support for testing headwater code without a cluster (shipped so that tests and tools share it)."""
