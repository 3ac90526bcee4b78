"""``python -m release doctor``: which sandbox layers this machine offers, and why not."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from autograder.sandbox import layers
from autograder.sandbox.parent import CONFINING


def doctor() -> int:
    """Print the layer report; 0 when at least one confinement layer works."""
    report = layers()
    table = Table(title="sandbox layers on this machine")
    for column in ("layer", "active", "detail"):
        table.add_column(column)
    for layer in report.values():
        mark = "[green]yes[/green]" if layer.active else "[red]no[/red]"
        table.add_row(layer.name, mark, layer.detail)
    console = Console()
    console.print(table)
    confined = [name for name in CONFINING if report[name].active]
    if confined:
        console.print(f"confinement: {', '.join(confined)}")
        return 0
    console.print(
        "[red]no confinement layer works here[/red]: `grade` refuses to run "
        "unless given --allow-unconfined"
    )
    return 1
