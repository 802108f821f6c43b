"""The ``kerascope`` command: the dashboard (``app``) and the library's commands.

``kerascope inspect | export | health | timeline ...`` are ``python -m extraction``'s own
commands, handed over unchanged (same options, output and exit codes); only ``app`` is new.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from kerascope.extraction import cli as library
from kerascope.extraction.errors import KerascopeError

PROG = "kerascope"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (0 ok, 2 bad input, as ``python -m extraction``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    commands = library_commands()
    if args and args[0] in commands:
        return library.main(args, prog=PROG)
    parsed = _parser(commands).parse_args(args)
    from . import launch

    try:
        plan = launch.plan(parsed.source, parsed.layer)
        port = parsed.port or launch.free_port(parsed.host)
    except KerascopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return library.EXIT_BAD_INPUT
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return library.EXIT_BAD_INPUT
    return launch.serve(plan, host=parsed.host, port=port, open_browser=not parsed.no_browser)


def library_commands() -> dict[str, str]:
    """The commands of ``python -m extraction``, with their one-line help, in its order."""
    parser = library._parser(PROG)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: a.help or "" for a in action._choices_actions}
    return {}


def _parser(commands: dict[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="See every weight of a Keras model: the dashboard, or the library's "
        "commands in a terminal.",
        epilog="`kerascope COMMAND --help` describes a command. Exit status: 0 ok, 2 bad input. "
        "In Python or a notebook: `import kerascope as ks; ks.filters('model.keras', 'conv1')`.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    app = sub.add_parser(
        "app",
        help="start the dashboard in the browser, opened on SOURCE",
        description="Start the Kerascope dashboard opened on SOURCE and print its address.",
        epilog="SOURCE is a model file, SavedModel folder or run folder (served from its "
        "folder via KERASCOPE_MODEL_DIR), a demo (digits_cnn, demo:digits_mlp ...) or "
        "app:NAME for a keras.applications architecture; without it, the default demo. Ctrl+C "
        "stops it.",
    )
    app.add_argument("source", nargs="?", metavar="SOURCE", help="what to open")
    app.add_argument("--port", type=_port, default=0, help="port (default: first free from 8501)")
    app.add_argument(
        "--host",
        default="localhost",
        help="address to listen on (default: localhost; 0.0.0.0 serves the network)",
    )
    app.add_argument("--layer", metavar="PATH", help="the layer to select, e.g. conv1")
    app.add_argument("--no-browser", action="store_true", help="do not open a browser")
    for name, help_text in commands.items():
        # Listed for --help only: main() hands these to python -m extraction before parsing.
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _port(text: str) -> int:
    port = int(text) if text.isdigit() else 0
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535; received {text!r}")
    return port


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kerascope")
    except PackageNotFoundError:
        return "(not installed)"
