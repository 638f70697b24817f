"""The ``fastgdml`` console entry point: parse, dispatch to a command, turn errors and signals into one line on
stderr and an exit status."""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

from .parser import build_parser


class _Terminated(KeyboardInterrupt):
    """SIGTERM as an exception, so that atomic writes remove their temporary files on the way out."""

    signum = signal.SIGTERM


@contextlib.contextmanager
def _sigterm_raises():
    """Raise _Terminated on SIGTERM while the block runs (the default kills the process and leaves a '.tmp-*'
    file). Main thread only (the only one that can set handlers); an ignored SIGTERM stays ignored."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) in (signal.SIG_IGN, None)):
        yield
        return

    def raise_terminated(signum, frame):
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _discard(*streams) -> None:
    """Point the streams' file descriptors at /dev/null, so that the flush at exit cannot fail once more (and
    print 'Exception ignored ... BrokenPipeError'); the recipe of the Python docs' note on SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in streams:
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):  # not a real file (captured in tests)
            pass
    os.close(devnull)


def _interrupted(exc: KeyboardInterrupt) -> str:
    """The one line for Ctrl-C or SIGTERM; after CG it says where the checkpoint is."""
    line = f"fastgdml: interrupted ({signal.Signals(getattr(exc, 'signum', signal.SIGINT)).name})"
    if getattr(exc, "iteration", None) is not None:  # fastgdml.training.cg.CgInterrupted
        line += f" at CG iteration {exc.iteration}"
        if exc.checkpoint:
            line += f"; checkpoint written to {exc.checkpoint}; continue with --resume"
    return line


def _run(argv) -> int:
    args = build_parser().parse_args(argv)
    # Under mpirun a training is row-sharded over the ranks: rank 0 prints and writes, and a rank that fails ends
    # all of them (MPI_Abort) instead of leaving the others waiting in a collective.
    comm = None
    if args.command == "train":
        from .. import parallel

        comm = parallel.resolve("auto")
    args.lead_rank = comm is None or comm.rank == 0
    status = _dispatch(args)
    if comm is not None and status not in (0, 3):
        print(f"fastgdml: MPI rank {comm.rank} of {comm.size} ended with status {status}; ending all ranks",
              file=sys.stderr, flush=True)
        comm.abort(status)
    return status


def _dispatch(args) -> int:
    from ..data.dataset import DatasetError
    from ..io.npz import NpzError
    from ..io.outputs import OutputError, WriteError
    from ..model import ModelError
    from .commands import CliError, cmd_config, cmd_contributions, cmd_convert, cmd_info, cmd_ipi, cmd_test
    from .training_commands import cmd_learning_curve, cmd_prune, cmd_train

    try:
        commands = {"train": cmd_train, "test": cmd_test, "info": cmd_info, "convert": cmd_convert,
                    "learning-curve": cmd_learning_curve, "prune": cmd_prune, "ipi": cmd_ipi, "config": cmd_config,
                    "contributions": cmd_contributions}
        return commands[args.command](args)
    except BrokenPipeError:
        raise  # main's business
    except KeyboardInterrupt as exc:
        print(_interrupted(exc), file=sys.stderr)
        return 128 + getattr(exc, "signum", signal.SIGINT)
    except WriteError as exc:
        print(f"fastgdml: error: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    except (CliError, OutputError, FileNotFoundError, DatasetError, ModelError, NpzError, MemoryError, ValueError,
            RuntimeError, ImportError) as exc:
        print(f"fastgdml: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.filename is None:
            raise  # a stream write (stdout on a full disk) carries no file name: main reports it
        print(f"fastgdml: error: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2


def main(argv=None) -> int:
    """Entry point of the ``fastgdml`` command; returns the exit status.

    0 done; 3 CG did not converge; 2 any error, reported in one 'fastgdml: error:' line on stderr; 130 after
    Ctrl-C, 143 after SIGTERM (one 'fastgdml: interrupted' line; temporary files removed, CG checkpointed);
    1, silently, when stdout is a pipe whose reader has gone (``fastgdml info x.npz | head -1``).
    """
    try:
        try:
            with _sigterm_raises():
                return _run(argv)
        finally:
            sys.stdout.flush()  # a closed pipe or a full disk shows here, not as an error at interpreter exit
    except BrokenPipeError:
        _discard(sys.stdout, sys.stderr)
        return 1
    except KeyboardInterrupt as exc:  # while parsing arguments or importing, before _run's handler
        print(_interrupted(exc), file=sys.stderr)
        return 128 + getattr(exc, "signum", signal.SIGINT)
    except OSError as exc:
        _discard(sys.stdout)
        with contextlib.suppress(OSError):  # stderr may be on the full device too
            print(f"fastgdml: error: cannot write standard output: {exc.strerror or exc}", file=sys.stderr)
        return 2
