"""The training pipeline. It imports no Django: it reads snapshot files and a run config, writes artifacts."""
