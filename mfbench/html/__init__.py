"""The HTML layer under the leaderboard and the diagnostics pages.

Escaping and safe text (:mod:`~mfbench.html.safety`), numbers as shown
(:mod:`~mfbench.html.numbers`), SVG checking and badges (:mod:`~mfbench.html.svg`), and the
Jinja2 environment with the shipped templates (:mod:`~mfbench.html.environment`). It imports
nothing of :mod:`mfbench.leaderboard` or :mod:`mfbench.diagnostics`; both render through it.
"""
