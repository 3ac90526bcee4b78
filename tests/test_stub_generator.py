"""The stub generator: marked regions become NotImplementedError, the rest stays byte for byte."""

import pytest

from autograder.regions import MarkerError
from release.stubs import has_solution, make_stub

SOLUTION = '''import numpy as np


def relu(x):
    """max(0, x). x: (N, D) -> (N, D)."""
    # BEGIN SOLUTION hint: use np.maximum
    return np.maximum(0, x)
    # END SOLUTION


class Layer:
    def forward(self, x):
        self.x = x  # given
        # BEGIN SOLUTION
        out = x * 2
        return out
        # END SOLUTION
'''


def test_regions_become_raises_and_the_rest_stays():
    stub = make_stub(SOLUTION)
    assert stub == SOLUTION.replace(
        "    # BEGIN SOLUTION hint: use np.maximum\n    return np.maximum(0, x)\n"
        "    # END SOLUTION\n",
        '    raise NotImplementedError("use np.maximum")\n',
    ).replace(
        "        # BEGIN SOLUTION\n        out = x * 2\n        return out\n"
        "        # END SOLUTION\n",
        '        raise NotImplementedError("your code here")\n',
    )
    namespace = {}
    exec(compile(stub, "stub", "exec"), namespace)
    with pytest.raises(NotImplementedError, match=r"use np\.maximum"):
        namespace["relu"](1)


def test_hint_with_quotes_stays_valid_python():
    stub = make_stub(
        'def f():\n    # BEGIN SOLUTION hint: say "hi" \\o/\n    pass\n    # END SOLUTION\n'
    )
    namespace = {}
    exec(stub, namespace)
    with pytest.raises(NotImplementedError, match='say "hi"'):
        namespace["f"]()


@pytest.mark.parametrize(
    "source, problem",
    [
        (
            "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n",
            "inside the region opened at line 1",
        ),
        ("x = 1\n# BEGIN SOLUTION\nx = 2\n", ":2: BEGIN SOLUTION is never closed"),
        ("# END SOLUTION\n", ":1: END SOLUTION without BEGIN"),
        ("def f():\n    # BEGIN SOLUTIONS\n    pass\n", ":2: a malformed marker"),
    ],
)
def test_malformed_markers_are_errors(source, problem):
    with pytest.raises(MarkerError, match=problem):
        make_stub(source)


def test_given_modules_have_no_solution():
    assert has_solution(SOLUTION)
    assert not has_solution("def f():\n    return 1  # BEGIN SOLUTION is mentioned, not a marker\n")


def test_module_level_region_names_its_stub_line():
    source = (
        "import numpy as np\n\n# BEGIN SOLUTION stub: TABLE = {}  # fill in\n"
        "TABLE = {'a': np.ones(2)}\n# END SOLUTION\n"
    )
    assert make_stub(source) == "import numpy as np\n\nTABLE = {}  # fill in\n"
