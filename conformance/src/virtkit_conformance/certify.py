"""``virtkit-certify``: run the conformance suite against a URI and write the verdict.

    virtkit-certify URI [--uri2 URI] [--junit FILE] [--json FILE] [--report FILE.md]
                        [--only GROUP[,GROUP]] [--prefix vkcert-] [-- PYTEST ARGS...]
    virtkit-certify --matrix RESULT.json... [--markdown FILE] [--html FILE]

Exit status: 0 certified, 1 refused, 2 usage or run error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from . import GROUPS, __version__

SUITE_MODULE = "from virtkit_conformance.suite import *  # noqa: F403\n"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="virtkit-certify",
        description="Run the virtkit conformance suite against a driver and certify it.",
    )
    p.add_argument("uri", nargs="?", help="URI of the driver under test")
    p.add_argument("--uri2", help="a second host's URI, for migration (test:///: automatic)")
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML here")
    p.add_argument("--json", metavar="FILE", help="write the JSON result record here")
    p.add_argument("--report", metavar="FILE.md", help="write the human report here")
    p.add_argument("--only", metavar="GROUP", action="append",
                   help=f"run only these groups (repeat or comma-separate): {', '.join(GROUPS)}")
    p.add_argument("--prefix", default="vkcert-", help="prefix of everything the suite creates")
    p.add_argument("--matrix", metavar="RESULT.json", nargs="+",
                   help="merge result records into the support matrix instead of running")
    p.add_argument("--markdown", metavar="FILE", help="with --matrix: write Markdown here")
    p.add_argument("--html", metavar="FILE", help="with --matrix: write HTML here")
    p.add_argument("--note", metavar="TEXT",
                   help="what the run was against, kept in the record and shown in the "
                        "support matrix (e.g. 'against a simulator')")
    p.add_argument("-q", "--quiet", action="store_true", help="less pytest output")
    p.add_argument("--version", action="version", version=f"virtkit-certify {__version__}")
    return p


def matrix_main(args: argparse.Namespace) -> int:
    from . import matrix

    try:
        records = matrix.load(args.matrix)
    except (OSError, ValueError) as exc:
        print(f"virtkit-certify: {exc}", file=sys.stderr)
        return 2
    command = ("virtkit-certify URI --json RESULT.json --note TEXT  # one run of a driver\n"
               f"virtkit-certify --matrix {' '.join(args.matrix)}"
               + (f" --markdown {args.markdown}" if args.markdown else ""))
    text = matrix.markdown(records, command)
    if args.markdown:
        Path(args.markdown).write_text(text)
    if args.html:
        Path(args.html).write_text(matrix.to_html(records))
    if not args.markdown and not args.html:
        print(text, end="")
    return 0


def run(args: argparse.Namespace) -> int:
    import pytest

    from .results import markdown_report, summary_lines

    with tempfile.TemporaryDirectory(prefix="vkcert-run-") as tmp:
        suite = Path(tmp) / "test_virtkit_conformance.py"
        suite.write_text(SUITE_MODULE)
        (Path(tmp) / "pytest.ini").write_text("[pytest]\n")
        record_path = args.json or os.path.join(tmp, "result.json")
        argv = [
            str(suite), "-c", str(Path(tmp) / "pytest.ini"), "--rootdir", tmp,
            "-p", "no:cacheprovider", "-p", "virtkit_conformance.plugin",  # no-op if loaded
            "--virtkit-uri", args.uri, "--virtkit-prefix", args.prefix,
            "--virtkit-json", record_path, "-rfE",
            "-W", "ignore::pytest.PytestAssertRewriteWarning",
            "-q" if args.quiet else "-v",
        ]
        if args.uri2:
            argv += ["--virtkit-uri2", args.uri2]
        if args.only:
            argv += ["--virtkit-only", ",".join(args.only)]
        if args.junit:
            argv += ["--junitxml", args.junit]
        code = pytest.main(argv + list(args.pytest_args))
        if not os.path.exists(record_path):
            print(f"virtkit-certify: the suite did not run (pytest exit {int(code)})",
                  file=sys.stderr)
            return 2
        record = json.loads(Path(record_path).read_text())
        if args.note:
            record["note"] = args.note
            Path(record_path).write_text(json.dumps(record, indent=2) + "\n")
    if args.report:
        Path(args.report).write_text(markdown_report(record))
    print()
    for line in summary_lines(record):
        print(line)
    return 0 if record["verdict"] == "certified" else 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    args = _parser().parse_args(argv)
    args.pytest_args = extra
    if args.matrix:
        return matrix_main(args)
    if not args.uri:
        _parser().error("give a URI to certify, or --matrix RESULT.json...")
    return run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
