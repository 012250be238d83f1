"""The `edgeppg` entry point. Commands load lazily so `edgeppg --help` stays fast (no torch/TF import)."""

from __future__ import annotations

import importlib
import os
import sys

# TensorFlow/absl print C++ info lines on import; keep the CLI's output to what the user asked for.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import click

from edgeppg import __version__
from edgeppg.errors import EdgePPGError

# command name -> "module:attribute"; each module owns one command (or group).
COMMANDS: dict[str, str] = {
    "data": "edgeppg.cli.data:data",
    "pretrain": "edgeppg.cli.train:pretrain",
    "finetune": "edgeppg.cli.train:finetune",
    "distill": "edgeppg.cli.distill:distill",
    "experiment": "edgeppg.cli.experiment:experiment",
    "export": "edgeppg.cli.export:export",
    "verify": "edgeppg.cli.verify:verify",
    "check": "edgeppg.cli.verify:check",
    "bench": "edgeppg.cli.bench:bench",
    "predict": "edgeppg.cli.predict:predict",
    "eval": "edgeppg.cli.eval:eval_",
    "run": "edgeppg.cli.run:run",
    "config": "edgeppg.cli.run:config",
}


def _load(name: str):
    module, attr = COMMANDS[name].split(":")
    return getattr(importlib.import_module(module), attr)


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(n for n in COMMANDS if importlib.util.find_spec(COMMANDS[n].split(":")[0]))

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        try:
            return _load(name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("edgeppg"):
                return None
            raise


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgeppg")
def cli():
    """edgeppg: ECG-pretrained teacher -> distilled int8 PPG student -> firmware.

    \b
    Typical flow:
      edgeppg data synth --n 2000 --out runs/data
      edgeppg run --preset default --out runs/demo      # the whole pipeline
    """


MAX_ERROR_CHARS = 600  # a hostile input (a 10^6-column CSV header) must not turn one line into megabytes


def one_line(msg: str, limit: int = MAX_ERROR_CHARS) -> str:
    """Whitespace (newlines included) collapsed and the text cut to `limit` characters, saying how much was cut."""
    msg = " ".join(str(msg).split())
    return msg if len(msg) <= limit else msg[:limit] + f"… [{len(msg) - limit} more characters]"


def _os_error(exc: OSError) -> str:
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    return f"{exc.strerror or type(exc).__name__}{where}; check the path, its permissions and the free disk space"


def main(argv=None) -> int:
    """Run the CLI; EdgePPGError becomes one line on stderr and its exit code (2 input, 1 failed check).

    Environment failures a user can fix (a read-only or full disk, memory exhausted, input nested too deep)
    are reported the same way, as one line with exit 2, never as a traceback. As the `edgeppg` program
    (argv None), the C++ runtimes' info lines are dropped from stderr (edgeppg/cli/quiet.py)."""
    if argv is not None:
        return _main(argv)
    from edgeppg.cli.quiet import filter_stderr

    restore = filter_stderr()
    try:
        return _main(argv)
    finally:
        restore()


def _main(argv) -> int:
    try:
        cli.main(args=argv, prog_name="edgeppg", standalone_mode=False)
    except EdgePPGError as exc:
        click.echo(f"edgeppg: error: {one_line(exc)}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("edgeppg: interrupted", err=True)
        return 130
    except click.ClickException as exc:
        exc.message = one_line(exc.message)
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except OSError as exc:
        click.echo(f"edgeppg: error: {one_line(_os_error(exc))}", err=True)
        return 2
    except MemoryError:
        click.echo("edgeppg: error: out of memory; the input is larger than this machine can hold", err=True)
        return 2
    except RecursionError:
        click.echo("edgeppg: error: an input is nested too deeply to read", err=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
