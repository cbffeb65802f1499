"""Recording what an upstream API sends, chunk for chunk, as ordinary scenarios."""
