"""The read path: queries, trace search and exports over the store."""
