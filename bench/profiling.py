"""Opt-in sampling profiles of the process under test: ``BENCH_PROFILE_DIR=/some/dir make bench``.

py-spy attaches to a running process from outside (no code change in the
host, a small sampling cost), so the same measurement that missed a target
can say where the time went. Output is py-spy's ``raw`` format (one folded
stack per line with its sample count); ``python -m bench.profiling FILE``
prints the functions with the most samples, on their own and inclusive.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PY_SPY = Path(sys.executable).with_name("py-spy")


def profile_dir() -> Path | None:
    value = os.environ.get("BENCH_PROFILE_DIR")
    return Path(value) if value else None


@contextlib.contextmanager
def sampled(pid: int, name: str, *, rate: int = 200) -> Iterator[Path | None]:
    """Sample ``pid`` while the block runs, when ``BENCH_PROFILE_DIR`` is set; yields the output path."""
    directory = profile_dir()
    if directory is None:
        yield None
        return
    directory.mkdir(parents=True, exist_ok=True)
    output = directory / f"{name}.folded"
    recorder = subprocess.Popen(
        [
            str(PY_SPY),
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--nolineno",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield output
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            _, stderr = recorder.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            recorder.kill()
            _, stderr = recorder.communicate()
        if not output.exists():
            print(f"   py-spy wrote no profile for {name}: {stderr.decode(errors='replace')[-500:]}", flush=True)


def top_functions(folded: str, limit: int = 25) -> tuple[int, list[tuple[str, int, int]]]:
    """Total samples and ``(function, self samples, inclusive samples)``, most inclusive first.

    A frame counts once per stack for its inclusive figure, so recursion does
    not inflate it; the idle event loop (``select``) shows up as self time of
    the selector, which is how an idle host looks.
    """
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in folded.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [frame for frame in stack.split(";") if frame]
        if not frames:
            continue
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    ranked = sorted(inclusive, key=lambda frame: inclusive[frame], reverse=True)[:limit]
    return total, [(frame, own[frame], inclusive[frame]) for frame in ranked]


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    path, by = Path(args[0]), (args[1] if len(args) > 1 else "inclusive")
    total, rows = top_functions(path.read_text(), limit=200)
    if by == "self":
        rows.sort(key=lambda row: row[1], reverse=True)
    print(f"{total} samples in {path}")
    print(f"{'self%':>6} {'incl%':>6}  function")
    for frame, own, inclusive in rows[:40]:
        print(f"{100 * own / total:6.1f} {100 * inclusive / total:6.1f}  {frame}")


if __name__ == "__main__":
    main()
