"""mfbench: a benchmark for cross-functional transfer learning of universal MLIPs."""

__version__ = "0.1.0"
