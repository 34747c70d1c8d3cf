"""Architecture adapters: what a method needs to load, run and train one model family.

One package per architecture (:mod:`mfbench.models.chgnet`, :mod:`mfbench.models.sevenn`), so a
second architecture is a sibling package; :mod:`mfbench.models.device` resolves the torch device.
Methods (``baselines/`` and outside code) import these and :mod:`mfbench.methods`, nothing else.
"""
