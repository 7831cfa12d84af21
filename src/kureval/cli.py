"""Command line: ``kureval demo | validate | report``.

Errors the user can fix (``DataError``, ``ConfigError``, ``ReportError``) are
printed as readable lists and give exit status 1; a traceback is never the
message.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from kureval.errors import KurevalError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kureval", description="Evaluate social-prescribing programmes."
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="write the synthetic demo study (deterministic)")
    d.add_argument(
        "path", nargs="?", default="data/raw/demo", help="folder to write (default data/raw/demo)"
    )
    d.add_argument("--overwrite", action="store_true", help="replace an existing demo folder")

    v = sub.add_parser("validate", help="check a study folder against the data contract")
    v.add_argument("path", help="study folder, e.g. data/raw/mystudy")

    r = sub.add_parser("report", help="build the HTML report of a study")
    r.add_argument("path", help="study folder, e.g. data/raw/mystudy")
    r.add_argument(
        "--out", default=None, help="output folder (default reports/<study folder name>)"
    )
    r.add_argument(
        "--lang", default=None, choices=["en", "sv"], help="report language (default: study.toml)"
    )
    r.add_argument(
        "--notebooks", default=None, help="folder of report notebooks (default: notebooks/)"
    )
    return p


def _version() -> str:
    from kureval import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from kureval.study.demo import generate

            out = generate(args.path, overwrite=args.overwrite)
            print(f"demo study written to {out}")
        elif args.command == "validate":
            from kureval.api import load_study
            from kureval.study.io import summary

            study = load_study(args.path)
            print(summary(study))
            print("\nOK: no problems found.")
        elif args.command == "report":
            from kureval.report.build import build
            from kureval.study.config import load_config

            lang = args.lang or load_config(args.path).language
            out_dir = (
                Path(args.out) if args.out else Path("reports") / Path(args.path).resolve().name
            )
            index = build(args.path, out_dir, lang=lang, notebooks_dir=args.notebooks)
            print(f"report written to {index}")
    except KurevalError as err:
        print(f"kureval {args.command}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
