"""Mailshot's send_mailing against the 4-connection wire, in alternating rounds:
`python -m bench.ratio [--n 5000] [--rounds 3]`.

Each round measures the wire (bare_smtplib_threads), then seeds a mailing and times
`send_mailing` on it, so both see the same machine load; the ratio of each round and
their median are printed with the load average. Quicker than `make bench` when only
this ratio is wanted (tuning the engine).
"""

from __future__ import annotations

import argparse
import os
import statistics

from bench.__main__ import fresh_database, measured, run


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ratio")
    parser.add_argument("--n", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    fresh_database()
    ratios = []
    for i in range(args.rounds):
        load = os.getloadavg()[0]
        wire, _, _ = measured("bare_smtplib_threads", args.n)
        seeded, _ = run("seed_mailing", args.n)
        mailshot, _, result = measured(
            "mailshot_send", args.n, BENCH_MAILING_ID=seeded["mailing_id"]
        )
        assert result["sink"]["duplicates"] == 0, result["sink"]
        ratios.append(mailshot / wire)
        print(
            f"round {i + 1}: load {load:.2f}, wire {wire:,.0f} msg/s, "
            f"send_mailing {mailshot:,.0f} msg/s, {mailshot / wire:.2f}× wire",
            flush=True,
        )
    print(f"median {statistics.median(ratios):.2f}× wire over {args.rounds} rounds")


if __name__ == "__main__":
    main()
