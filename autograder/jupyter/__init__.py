"""The Jupyter bridges: the kit's grading inside nbgrader and otter-grader, one module per
process it runs in. Each module that runs in a tool's process imports that tool at the top;
the build-time side (the course folder, the zips) is ``release/``, which grading never
imports.

- :mod:`.nbgrader_plugins`: in nbgrader's process (``nbgrader autograde``, ``collect``,
  ``export``); imports nbgrader.
- :mod:`.nbgrader_grade`: the kit's grading process that the autograde starts, one per run.
- :mod:`.nbgrader_cells`: in nbgrader's kernel, what the grading notebook's test cells call.
- :mod:`.otter_files`: the course's otter files as text (written at build time, rebuilt by
  the plugin); imports no tool.
- :mod:`.otter_plugin`: in ``otter run``'s process, the kit's otter plugin; imports otter.
- :mod:`.otter_batch`: the batch road, one ``otter run`` per upload; imports otter.
"""
