"""Package sizes and start-up time of the frozen app next to running from source.

Usage: ``.venv/bin/python benchmarks/installer_startup.py [--runs N] [--no-build]``

Builds (or reuses) installer/dist/spacevoice and the .deb, then times, interleaved so that machine load hits
both alike, ``spacevoice --help`` and ``spacevoice --self-test`` from the frozen folder and
``python main.py ...`` from source. Prints a table of medians and the frozen/source ratio; ratios below 1 mean
the frozen app is faster.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FROZEN = ROOT / "installer" / "dist" / "spacevoice"


def timed_run(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Seconds one run of ``command`` took; raises when it fails."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}")
    return elapsed


def mib(path: Path) -> float:
    """Size of a file or folder in MiB."""
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20


def main() -> int:
    """Build or reuse the packages, time both ways of starting, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (default 5)")
    parser.add_argument("--no-build", action="store_true",
                        help="time the packages already in installer/dist even if the sources changed since")
    args = parser.parse_args()
    if not args.no_build:
        for script in ("build_frozen.sh", "build_deb.sh"):
            subprocess.run(["bash", str(ROOT / "installer" / script)], cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL)
    debs = sorted((ROOT / "installer" / "dist").glob("spacevoice_*.deb"), key=lambda p: p.stat().st_mtime)

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        env = {**os.environ, "SPACEVOICE_HOME": str(work / "home")}
        env.pop("DISPLAY", None)
        commands = {
            "--help": ([str(FROZEN / "spacevoice"), "--help"], [sys.executable, str(ROOT / "main.py"), "--help"]),
            "--self-test": ([str(FROZEN / "spacevoice"), "--self-test"],
                            [sys.executable, str(ROOT / "main.py"), "--self-test"]),
        }
        rows = []
        for label, (frozen, source) in commands.items():
            timed_run(frozen, work, env)  # one warm-up each: the first run pays for a cold disk cache
            timed_run(source, work, env)
            frozen_times, source_times = [], []
            for _ in range(args.runs):
                frozen_times.append(timed_run(frozen, work, env))
                source_times.append(timed_run(source, work, env))
            rows.append((label, statistics.median(frozen_times), statistics.median(source_times)))

    print(f"{'command':<14} {'frozen s':>9} {'source s':>9} {'frozen/source':>14}")
    for label, frozen_s, source_s in rows:
        print(f"{label:<14} {frozen_s:9.2f} {source_s:9.2f} {frozen_s / source_s:14.2f}")
    print()
    print(f"{'frozen folder':<28} {mib(FROZEN):6.0f} MiB")
    if debs:
        print(f"{debs[-1].name:<28} {mib(debs[-1]):6.0f} MiB")
    print(f"load average   {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs), {args.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
