"""The ``packserve`` command.

``packserve`` with no arguments serves the repository in the current directory;
``packserve serve [REPO] [--host H] [--port P] [--config FILE]`` says so explicitly.
Configuration precedence: defaults < ``--config`` file < command-line flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from app import __version__
from app.config import ConfigError, Settings, load


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="packserve",
        description="Serve any Git ref of a repository over HTTP straight out of its packfiles.",
    )
    parser.add_argument("--version", action="version", version=f"packserve {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="serve a repository (the default command)")
    serve.add_argument("repo", nargs="?", help="working tree or bare repository (default: .)")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default 8000)")
    serve.add_argument("--config", metavar="FILE", help="TOML settings file")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = load(args.config) if args.config else Settings()
    changes: dict[str, object] = {}
    if args.repo is not None:
        changes["repository"] = Path(args.repo)
    if args.host is not None:
        changes["host"] = args.host
    if args.port is not None:
        changes["port"] = args.port
    return dataclasses.replace(settings, **changes)


def serve(settings: Settings) -> None:
    """Run the service under uvicorn until interrupted."""
    import uvicorn

    from app.http.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``packserve`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv.insert(0, "serve")
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"packserve: configuration error: {exc}", file=sys.stderr)
        return 2
    serve(settings)
    return 0
