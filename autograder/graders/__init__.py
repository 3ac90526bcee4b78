"""Hidden graders: never shipped to students.

``HIDDEN_SEED`` seeds every hidden case. It is fixed, so a regrade gives the same grade, and
differs from the public tests' seed, so the hidden inputs are not the public ones.
"""

HIDDEN_SEED = 0x5EC12E7
