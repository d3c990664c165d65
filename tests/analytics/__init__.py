"""Tests of the query model, its stores, exports and CLI."""
