"""The publication mfbench's tasks and baselines follow, as BibTeX, for methods to cite."""

#: Huang et al. (2025), *Cross-functional transferability in foundation machine learning
#: interatomic potentials*, npj Comput. Mater. (arXiv 2504.05565).
HUANG_2025_BIBTEX = """@article{huang2025crossfunctional,
  title         = {Cross-functional transferability in foundation machine learning interatomic
                   potentials},
  author        = {Huang, Xu and Deng, Bowen and Zhong, Peichen and Kaplan, Aaron D. and
                   Persson, Kristin A. and Ceder, Gerbrand},
  journal       = {npj Computational Materials},
  year          = {2025},
  doi           = {10.1038/s41524-025-01796-y},
  eprint        = {2504.05565},
  archivePrefix = {arXiv},
  primaryClass  = {cond-mat.mtrl-sci}
}
"""
