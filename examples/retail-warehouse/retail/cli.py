"""`retail ingest ...`: the command line the team runs in production."""
import typer

from retail.ingest.pos import load_pos_file

app = typer.Typer(help="Retail data platform jobs.")


@app.command()
def ingest(path: str) -> None:
    load_pos_file(path)
