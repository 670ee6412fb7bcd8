"""Byte-level BPE: training from the mix stage's train shards, and encoding shards to token files."""
