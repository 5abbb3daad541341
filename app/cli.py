"""The ``packserve`` command.

``packserve [serve] [REPO] [options]`` serves a repository (default: the current
directory) or every repository of the configuration; ``packserve warm [REPO] [REF…]``
prepares every file of those refs in the disk cache before the first visitor;
``packserve check [REPO]`` verifies every pack, object and ref (exit 0 clean, 1 corrupt,
2 unusable).

Configuration precedence, lowest first: defaults < ``--config`` file (or
``PACKSERVE_CONFIG``) < ``PACKSERVE_<KEY>`` environment variables < command-line flags.
Invalid configuration exits with status 2 and a message naming the key.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from app import __version__
from app.config import (
    ACCESS_LOG_FORMATS,
    ConfigError,
    Settings,
    from_environment,
    from_mapping,
    load,
)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE",
                        help="TOML settings file (default: $PACKSERVE_CONFIG)")
    parser.add_argument("--cache-dir", metavar="DIR", help="on-disk cache directory")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="packserve",
        description="Serve any Git ref of a repository over HTTP straight out of its packfiles.",
    )
    parser.add_argument("--version", action="version", version=f"packserve {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="serve repositories (the default command)")
    serve.add_argument("repo", nargs="?", help="working tree or bare repository (default: .)")
    _common(serve)
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default 1)")
    serve.add_argument("--raw", action="store_const", const=True, dest="raw_mode",
                       help="serve markup and scripts as text/plain (untrusted content)")
    serve.add_argument("--no-listings", action="store_const", const=False, dest="listings",
                       help="answer directories without index.html with 404")
    serve.add_argument("--base-domain", metavar="DOMAIN",
                       help="serve <ref-slug>.DOMAIN previews at the root")
    serve.add_argument("--redirect-branches", action="store_const", const=True,
                       help="302 branch URLs to the full-commit URL")
    serve.add_argument("--access-log", choices=ACCESS_LOG_FORMATS, help="access log format")
    serve.add_argument("--no-metrics", action="store_const", const=False, dest="metrics",
                       help="do not serve /-/metrics")
    serve.add_argument("--proxy-headers", action=argparse.BooleanOptionalAction, default=None,
                       help="trust X-Forwarded-For/-Proto from --forwarded-allow-ips")
    serve.add_argument("--forwarded-allow-ips", metavar="IPS",
                       help="comma-separated proxy addresses to trust, or '*'")
    serve.add_argument("--graceful-timeout", type=int, metavar="SECONDS",
                       help="how long in-flight responses may finish after SIGTERM")
    warm = commands.add_parser("warm", help="prepare every file of some refs in the disk cache")
    warm.add_argument("repo", nargs="?",
                      help="a configured repository's name or a repository path "
                           "(default: every configured repository)")
    warm.add_argument("refs", nargs="*", help="refs to prepare (default: every exposed ref)")
    _common(warm)
    warm.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    check = commands.add_parser("check", help="verify every pack, object and ref of a repository")
    check.add_argument("repo", nargs="?", help="working tree or bare repository (default: .)")
    check.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    return parser


# Flags whose value maps one to one onto a settings key.
_FLAG_KEYS = (
    "host", "port", "workers", "raw_mode", "listings", "base_domain", "redirect_branches",
    "access_log", "metrics", "proxy_headers", "forwarded_allow_ips", "graceful_timeout",
)


def settings_from(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from defaults, the config file, the environment and the flags, in that order."""
    environ = os.environ if environ is None else environ
    config = args.config or environ.get("PACKSERVE_CONFIG")
    settings = load(config) if config else Settings()
    settings = from_environment(environ, settings)
    data: dict[str, Any] = {}
    for key in _FLAG_KEYS:
        value = getattr(args, key, None)
        if value is not None:
            data[key] = value
    if args.cache_dir is not None:
        data["cache_dir"] = args.cache_dir
    if args.command == "serve" and args.repo is not None:
        data["repository"] = args.repo
    return from_mapping(data, settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``packserve`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("serve", "warm", "check", "-h", "--help", "--version"):
        argv.insert(0, "serve")
    args = _parser().parse_args(argv)
    if args.command == "check":
        from app.check import run_check

        return run_check(args.repo, progress=False if args.quiet else None)
    try:
        settings = settings_from(args)
        if args.command == "warm":
            from app.ops import warm

            return warm.main(settings, args.repo, args.refs, progress=not args.quiet)
        from app.ops import server

        server.run(settings)
    except ConfigError as exc:
        print(f"packserve: configuration error: {exc}", file=sys.stderr)
        return 2
    return 0
