"""`advocacy metrics export`: one BI dataset through the gateway into a file, streamed.

It writes the response to the file as it arrives and prints the export's `until` (the
`Advocacy-Export-Until` header) on stdout: pass it as `--since` next time to fetch only what
changed. See docs/metrics.md ("BI export").
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import httpx

UNTIL_HEADER = "Advocacy-Export-Until"


def add_command(metrics_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    exporting = metrics_commands.add_parser(
        "export", help="write a BI dataset to a Parquet or CSV file (docs/metrics.md)"
    )
    exporting.add_argument(
        "dataset",
        choices=["post_days", "posts", "rollups", "ambassadors", "participation", "momentum"],
    )
    exporting.add_argument("--org", required=True, help="the organisation's id")
    exporting.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    exporting.add_argument("--since", help="a previous export's until: only what changed since")
    exporting.add_argument("--output", "-o", type=Path, required=True, help="the file to write")
    exporting.add_argument(
        "--url", help="the gateway (default: where `advocacy run` serves it, ADVOCACY_HTTP_PORT)"
    )
    exporting.add_argument(
        "--key",
        default=os.environ.get("ADVOCACY_API_KEY"),
        help="an API key that may read metrics, e.g. a `bi` key (default: $ADVOCACY_API_KEY)",
    )


async def export_dataset(args: argparse.Namespace, url: str) -> int:
    """0 and the until on stdout when written; 1 with the gateway's problem otherwise."""
    if not args.key:
        print("an API key is needed: --key or ADVOCACY_API_KEY")
        return 2
    params = {"format": args.format, **({"since": args.since} if args.since else {})}
    headers = {"Authorization": f"Bearer {args.key}"}
    async with (
        httpx.AsyncClient(base_url=url, headers=headers, timeout=300.0) as client,
        client.stream(
            "GET", f"/api/v1/orgs/{args.org}/metrics/export/{args.dataset}", params=params
        ) as response,
    ):
        if response.status_code != 200:
            await response.aread()
            print(f"export refused ({response.status_code}): {response.text[:500]}")
            return 1
        partial = args.output.with_name(args.output.name + ".part")
        with partial.open("wb") as out:
            async for chunk in response.aiter_bytes():
                out.write(chunk)
        partial.replace(args.output)  # a broken transfer leaves no file that looks whole
        print(response.headers.get(UNTIL_HEADER, ""))
    return 0
