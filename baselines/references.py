"""BibTeX entries of the publications the baselines follow (``Method.references``).

The site cites a baseline's entries together with the suite's; a baseline that follows no
publication of its own names none.
"""

from __future__ import annotations

from mfbench.methods import HUANG_2025_BIBTEX

HUANG_2025 = HUANG_2025_BIBTEX

DENG_2023_CHGNET = """@article{deng2023chgnet,
  title   = {{CHGNet} as a pretrained universal neural network potential for charge-informed
             atomistic modelling},
  author  = {Deng, Bowen and Zhong, Peichen and Jun, KyuJung and Riebesell, Janosh and Han, Kevin
             and Bartel, Christopher J. and Ceder, Gerbrand},
  journal = {Nature Machine Intelligence},
  volume  = {5},
  pages   = {1031--1041},
  year    = {2023},
  doi     = {10.1038/s42256-023-00716-3}
}
"""

PARK_2024_SEVENNET = """@article{park2024sevennet,
  title   = {Scalable Parallel Algorithm for Graph Neural Network Interatomic Potentials in
             Molecular Dynamics Simulations},
  author  = {Park, Yutack and Kim, Jaesun and Hwang, Seungwoo and Han, Seungwu},
  journal = {Journal of Chemical Theory and Computation},
  year    = {2024},
  doi     = {10.1021/acs.jctc.4c00190}
}
"""

KIM_2025_MULTIFIDELITY = """@article{kim2025multifidelity,
  title         = {Data-Efficient Multifidelity Training for High-Fidelity Machine Learning
                   Interatomic Potentials},
  author        = {Kim, Jaesun and Kim, Jisu and Kim, Jaehoon and Lee, Jiho and Park, Yutack and
                   Kang, Youngho and Han, Seungwu},
  journal       = {Journal of the American Chemical Society},
  year          = {2025},
  doi           = {10.1021/jacs.4c14455},
  eprint        = {2409.07947},
  archivePrefix = {arXiv}
}
"""

RAMAKRISHNAN_2015_DELTA = """@article{ramakrishnan2015delta,
  title   = {Big Data Meets Quantum Chemistry Approximations: The {$\\Delta$}-Machine Learning
             Approach},
  author  = {Ramakrishnan, Raghunathan and Dral, Pavlo O. and Rupp, Matthias and
             von Lilienfeld, O. Anatole},
  journal = {Journal of Chemical Theory and Computation},
  volume  = {11},
  pages   = {2087--2096},
  year    = {2015},
  doi     = {10.1021/acs.jctc.5b00099}
}
"""

BATATIA_2023_MACE_MP = """@misc{batatia2023foundation,
  title         = {A foundation model for atomistic materials chemistry},
  author        = {Batatia, Ilyes and others},
  year          = {2023},
  eprint        = {2401.00096},
  archivePrefix = {arXiv}
}
"""
