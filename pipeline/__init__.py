"""curate: the pipeline machinery (schema, stage contract, readers, execution, stats, CLI)."""

__version__ = "0.1.0"
