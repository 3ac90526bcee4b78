"""The instructor's command line: build, grade, verify, demo (``python -m release``)."""
