"""The `shinka` command line: one module per command group, each with a `register` function.

Exit codes: 0 success, 2 user error (one line on stderr, no traceback), 1 internal failure.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from shinka import __version__
from shinka.errors import UserError

logger = logging.getLogger("shinka")

EXIT_OK, EXIT_INTERNAL, EXIT_USER = 0, 1, 2
EXIT_CODES = "Exit codes: 0 success, 2 user error (one line on stderr), 1 internal failure, 130 interrupted (Ctrl-C)."


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("epilog", EXIT_CODES)  # every command's --help lists the exit codes
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # argparse's own usage errors exit 2 too, in one line
        self.exit(EXIT_USER, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from shinka.cli import (
        compare,
        estimate,
        export,
        front,
        hardware,
        resume,
        run,
        space,
        status,
        ui,
    )

    parser = _Parser(
        prog="shinka",
        description="Evolutionary, hardware-aware architecture search for compressed transformer language models.",
        epilog=EXIT_CODES,
    )
    parser.add_argument("--version", action="version", version=f"shinka {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    for module in (run, resume, status, front, export, compare, space, hardware, estimate, ui):
        module.register(commands)
    return parser


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S"))
    root = logging.getLogger("shinka")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        return int(args.handler(args) or EXIT_OK)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (`shinka front DIR | head`); exit quietly like other Unix tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
