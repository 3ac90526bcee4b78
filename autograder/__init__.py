"""The grading engine: sandboxed child processes, hidden graders, one result model."""
