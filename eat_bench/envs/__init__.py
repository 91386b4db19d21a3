"""Environment adapters over the simulator: Gymnasium (single agent) and PettingZoo."""
