"""The static HTML leaderboard: validated result records rendered into a folder of files.

Call :func:`build_site` (``mfbench leaderboard build --results DIR --out SITE``). Importing it
never imports torch or chgnet; matplotlib draws the plots through its object API (no pyplot).
"""

from mfbench.leaderboard.build import SiteReport, build_site

__all__ = ["SiteReport", "build_site"]
