"""The improvement loop: datasets and annotation queues, over the store."""
