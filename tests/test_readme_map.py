"""The README's map of the code lists every module, one line each, and no module that is gone."""

import re

from autograder import course

ROOT = course.ROOT
FOLDERS = ("autograder", "autograder/sandbox", "autograder/jupyter", "release")


def _map() -> dict[str, list[str]]:
    """Folder -> the module names of its entries (`` - `name`: ...``) in the map."""
    text = (ROOT / "README.md").read_text("utf-8")
    body = text.split("### Map of the code", 1)[1].split("\n#", 1)[0]
    listed: dict[str, list[str]] = {}
    folder = None
    for line in body.splitlines():
        if heading := re.match(r"- `([\w/]+)/`", line):
            folder = heading[1]
            listed[folder] = []
        elif entry := re.match(r"  - `(\w+)`:", line):
            listed[folder].append(entry[1])
    return listed


def test_the_map_lists_every_module_once():
    listed = _map()
    assert set(listed) == set(FOLDERS)
    for folder in FOLDERS:
        modules = sorted(path.stem for path in (ROOT / folder).glob("*.py"))
        assert sorted(listed[folder]) == modules, folder
