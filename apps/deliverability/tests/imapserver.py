"""A real IMAP server for the tests: Dovecot from Debian's packages (``.ci/run``
installs ``dovecot-imapd``), started on a free port with a throwaway configuration,
its mailboxes in a temporary directory. Nothing on the machine's own Dovecot is used.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from imapclient import IMAPClient

from apps.core.smtpsink import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USERS = 200

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
"""


def available() -> bool:
    return os.path.exists(DOVECOT)


class Dovecot:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mailshot-dovecot-"))
        self.port = free_port()
        self.users = 0
        if os.geteuid() == 0:
            # Dovecot refuses to keep mail as root: the package's own user keeps it.
            entry = pwd.getpwnam("dovecot")
            self.uid, self.gid = entry.pw_uid, entry.pw_gid
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
        self.config = self.root / "dovecot.conf"

    def start(self) -> Dovecot:
        # Dovecot's login and auth processes run as its own users: they must be
        # able to reach the configuration and the password file.
        self.root.chmod(0o755)
        for name in ("run", "state", "home"):
            (self.root / name).mkdir()
        # Every test gets its own user (its own INBOX). They are all written before
        # the start: Dovecot caches the password file, and a user appended later
        # in the same second as its last read may not be seen.
        (self.root / "passwd").write_text(
            "".join(
                f"{u}:{{PLAIN}}{p}\n" for u, p in map(self._user, range(1, USERS + 1))
            )
        )
        os.chown(self.root / "home", self.uid, self.gid)
        self.config.write_text(
            CONFIG.format(root=self.root, port=self.port, uid=self.uid, gid=self.gid)
        )
        subprocess.run([DOVECOT, "-c", str(self.config)], check=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"Dovecot did not start: {self.log()}")

    def stop(self) -> None:
        subprocess.run([DOVECOT, "-c", str(self.config), "stop"], check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text() if path.exists() else ""

    def new_user(self) -> tuple[str, str]:
        """A new mailbox owner (each test its own INBOX)."""
        self.users += 1
        if self.users > USERS:
            raise RuntimeError(f"more than {USERS} mailboxes asked for")
        return self._user(self.users)

    @staticmethod
    def _user(number: int) -> tuple[str, str]:
        return f"bounces{number}", f"secret{number}"

    def url(self, user: str, password: str, folder: str = "INBOX") -> str:
        return f"imap://{user}:{password}@127.0.0.1:{self.port}/{folder}"

    def client(self, user: str, password: str) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(user, password)
        return client

    def deliver(self, user: str, password: str, *messages: bytes) -> None:
        """Put messages in the user's INBOX (IMAP APPEND, as a delivery agent would)."""
        client = self.client(user, password)
        try:
            for message in messages:
                client.append("INBOX", message)
        finally:
            client.logout()

    def flags(self, user: str, password: str) -> list[set[bytes]]:
        client = self.client(user, password)
        try:
            client.select_folder("INBOX", readonly=True)
            uids = sorted(client.search(["ALL"]))
            data = client.get_flags(uids) if uids else {}
            return [set(data[uid]) for uid in uids]
        finally:
            client.logout()


__all__ = ["Dovecot", "available"]
