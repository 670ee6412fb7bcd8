"""One module per stage; each registers itself with `pipeline.stage.register`."""
