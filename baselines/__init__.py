"""mfbench's baseline transfer methods, written against mfbench's public API only."""
