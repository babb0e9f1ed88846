"""Where one `send_mailing` run spends its time: `python -m bench.profile [--n 5000]`.

Seeds a mailing to N clients on a fresh bench database, runs `send_mailing` against
the counting sink (as the send benchmark does) under py-spy, and prints, for the main
(coordinating) thread from `call_command` on and for each other kind of thread, the
functions with the largest share of samples: inclusive (the function or anything it
called) and self (the function itself); the sender threads' samples add up over all
of them. Time spent in a C call (a socket read, a queue wait) counts as the self time
of the Python function that made it. A sampling profiler is used because the run is
multi-threaded: Python 3.12's cProfile records every thread into one table, so its
cumulative times mix threads.

    --idle   every sample, waiting included: where the wall-clock time goes (default)
    --gil    only the thread holding the GIL: where the CPU time goes

The raw samples are kept in var/bench/profile-<mode>.txt (py-spy's collapsed stacks).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from collections import Counter, defaultdict

from bench.__main__ import PY, ROOT, Sink, env, fresh_database, run

# The frame that starts the measured part in the main thread: set-up is left out.
MEASURED = "call_command"


def summary(path: str, top: int) -> str:
    """Per thread name: total samples, then the top functions by share."""
    totals: Counter[str] = Counter()
    inclusive: defaultdict[str, Counter[str]] = defaultdict(Counter)
    own: defaultdict[str, Counter[str]] = defaultdict(Counter)
    with open(path) as samples:
        for line in samples:
            stack, _, count = line.rstrip().rpartition(" ")
            thread, *frames = stack.split(";")
            name = thread.partition(": ")[2]  # "thread (1234): MainThread"
            # "function (file:line)" → "function (file)": one row per function.
            frames = [re.sub(r":\d+\)$", ")", frame) for frame in frames]
            if not name or name.startswith("tqdm"):
                continue  # unnamed at start-up, or the progress bar's monitor
            if name == "MainThread":
                starts = [i for i, f in enumerate(frames) if f.startswith(MEASURED)]
                if not starts:
                    continue
                frames = frames[starts[0] :]
            else:
                # Below threading's own frames: what the thread was started to do.
                runs = [i for i, f in enumerate(frames) if f.startswith("Thread.run ")]
                frames = frames[runs[-1] + 1 :] if runs else frames
            n = int(count)
            totals[name] += n
            if frames:
                own[name][frames[-1]] += n
            for frame in set(frames):
                inclusive[name][frame] += n
    lines = []
    for name, total in totals.most_common():
        lines.append(f"## thread {name}: {total} samples")
        for title, counts in (("inclusive", inclusive[name]), ("self", own[name])):
            lines.append(f"-- {title}")
            lines += [
                f"{100 * c / total:5.1f} %  {frame}"
                for frame, c in counts.most_common(top)
            ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--n", type=int, default=5_000)
    parser.add_argument("--top", type=int, default=15)
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--idle", action="store_const", dest="mode", const="idle")
    modes.add_argument("--gil", action="store_const", dest="mode", const="gil")
    args = parser.parse_args()
    mode = args.mode or "idle"
    spy = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
    if not shutil.which(spy):
        raise SystemExit("bench.profile needs py-spy (make bench installs it)")
    fresh_database()
    seeded, _ = run("seed_mailing", args.n)
    out = ROOT / "var" / "bench" / f"profile-{mode}.txt"
    sink = Sink()
    try:
        subprocess.run(  # noqa: S603
            [spy, "record", f"--{mode}", "--threads", "--format", "raw"]
            + ["--rate", "250", "--output", str(out), "--"]
            + [PY, "-m", "bench.workloads", "mailshot_send", str(args.n)],
            cwd=ROOT,
            env=env(BENCH_SMTP_PORT=sink.port, BENCH_MAILING_ID=seeded["mailing_id"]),
            check=True,
            stderr=subprocess.DEVNULL,
        )
    finally:
        received = sink.stop()
    print(f"send_mailing to {args.n:,} clients, sink received {received}", flush=True)
    print(summary(str(out), args.top))


if __name__ == "__main__":
    main()
