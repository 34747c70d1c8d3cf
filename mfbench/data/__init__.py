"""Datasets: frames, readers, the on-disk frame store and the dataset registry."""
