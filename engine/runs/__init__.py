"""Run state: the config, the typed events and the run directories."""
