"""``docfactory sample-invoices``: reproducible input for ``jobs/invoice_run.toml``.

Takes a count, a folder, a seed and a period; writes ``invoices.jsonl`` and prints a summary.
"""

from __future__ import annotations

from pathlib import Path

import click

from factory.cli.app import App, cli, handle_errors
from factory.cli.commands import PERIOD, _period
from factory.cli.output import esc


@cli.command("sample-invoices")
@click.option("--invoices", "count", type=click.IntRange(1), default=50, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("var/sample"), show_default=True)
@click.option("--seed", type=int, default=2026, show_default=True)
@PERIOD
@click.pass_obj
@handle_errors
def sample_invoices(app: App, count: int, out: Path, seed: int, period: str | None) -> None:
    """Generate invoices and credit notes (1-8 lines, several VAT rates, CZK and EUR)."""
    from factory.samples.invoices import generate_invoices

    summary = generate_invoices(count, out, seed=seed, period=_period(period))
    app.out.print(f"[green]✓[/] {summary.invoices} invoices ({summary.credit_notes} credit"
                  f" notes), {summary.lines} lines")
    for path in summary.files:
        app.out.print(f"  {esc(path)}")
