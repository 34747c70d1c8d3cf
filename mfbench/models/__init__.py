"""Models mfbench can score without training (the pretrained CHGNet checkpoints)."""
