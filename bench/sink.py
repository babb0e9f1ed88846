"""A counting SMTP sink in its own process (aiosmtpd): `python -m bench.sink PORT`.

It accepts everything and keeps only a count per recipient, printed as one JSON line
when it stops ({"count": messages, "recipients": distinct recipients, "duplicates":
messages beyond the first per recipient}), so that the sink costs the same for every
sender measured against it and a benchmark can check that nobody was served twice.
"""

import json
import signal
import sys
import threading
from collections import Counter

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class Counting:
    def __init__(self) -> None:
        self.count = 0
        self.per_recipient: Counter = Counter()

    async def handle_DATA(  # noqa: N802 (aiosmtpd API)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.count += 1
        self.per_recipient.update(envelope.rcpt_tos)
        return "250 OK queued"

    def report(self) -> dict:
        return {
            "count": self.count,
            "recipients": len(self.per_recipient),
            "duplicates": sum(self.per_recipient.values()) - len(self.per_recipient),
        }


def main() -> None:
    port = int(sys.argv[1])
    counter = Counting()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    print("ready", flush=True)
    stop.wait()
    controller.stop()
    print(json.dumps(counter.report()), flush=True)


if __name__ == "__main__":
    main()
