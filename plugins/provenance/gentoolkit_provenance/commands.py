"""``gentoolkit detect FILE...``: is each file marked, and is its manifest intact?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer


def add_commands(cli: Any) -> None:
    @cli.app.command("detect")
    def detect_files(
        files: list[Path] = typer.Argument(..., help="Files or run folders to check."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON list of reports."),
        key: Optional[str] = typer.Option(None, help="Provenance key (default: GENTOOLKIT_PROVENANCE_KEY, "
                                          "the user config's provenance.key, else the public default)."),
    ) -> None:
        """Report each file's watermark (bit accuracy, p-value) and signed-manifest state; exit 0 when all were checked."""
        from gentoolkit_provenance.detect import detect

        reports = detect(files, key=key, toolkit=cli.toolkit)
        if as_json:
            typer.echo(json.dumps(reports, indent=1))
            return
        for report in reports:
            typer.echo(f"{report['file']}: {report['status']}")
            if report["status"] == "unsupported":
                typer.echo(f"  {report['reason']}")
                continue
            typer.echo(f"  watermark: {_describe(report['watermark'])}")
            manifest = report["manifest"]
            typer.echo(f"  manifest: {manifest['state']} ({manifest['reason']})")
            if report["c2pa"] is not None:
                typer.echo(f"  c2pa: {report['c2pa']['state']} ({report['c2pa']['reason']})")
            if report.get("passive"):
                passive = report["passive"]
                typer.echo(f"  passive detector: P(generated) {passive['generated_probability']:.2f}, "
                           f"{passive['flagged']} flagged ({passive['detector']}; {passive['caveat']})")

    @cli.group("provenance", help="Provenance settings and signing credentials.").command("init")
    def init(
        force: bool = typer.Option(False, "--force", help="Replace existing credentials."),
        days: int = typer.Option(365, help="Validity of the signing certificate, in days."),
    ) -> None:
        """Mint a development root CA and a C2PA signing certificate into the user config folder."""
        from gentoolkit_provenance.credentials import mint_credentials

        folder = mint_credentials(force=force, days=days)
        typer.echo(f"Wrote a development root CA and signing certificate to {folder}. Generated images are now "
                   "signed with C2PA manifests; readers will call them 'untrusted' (nobody trusts this CA). "
                   "For a real certificate, set certificate and private_key in [provenance] of the user config.")


def _describe(mark: dict[str, Any]) -> str:
    if "z_score" in mark and "bigrams_scored" not in mark:
        return f"{mark['verdict']} (z = {mark['z_score']:.2f}, p = {mark['p_value']:.1e})"
    if "z_score" in mark:
        return (f"{mark['verdict']} (z = {mark['z_score']:.2f}, p = {mark['p_value']:.1e}, "
                f"{mark['bigrams_scored']} distinct bigrams in {mark['samples']} samples)")
    if "p_value" not in mark:
        details = mark.get("reason") or ", ".join(f"{k} {v}" for k, v in mark.items() if k != "verdict")
        return f"{mark['verdict']} ({details})"
    run = f", run {mark['payload']}" if mark.get("payload") else ""
    if mark["verdict"] == "marked" and not mark.get("payload"):
        run = ", run id too damaged to correct"
    return f"{mark['verdict']} (bit accuracy {mark['bit_accuracy']:.2f}, p = {mark['p_value']:.1e}{run})"
