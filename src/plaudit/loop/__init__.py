"""The improvement loop (DESIGN §7): datasets and annotation queues, over the store."""
