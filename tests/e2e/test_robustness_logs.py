"""The daemon's real log output under hostile input (issue 5, robustness: logs).

`smscd run` at debug level, JSON lines, is sent control characters and octets that are not
UTF-8 in every field a client controls (system_id, password, addresses, short_message), and a
run of wrong passwords that ends in a lock-out. Every line it prints must stay one parseable
JSON object of printable ASCII, the hostile values must show up escaped, the lock-out must be
logged once, and no password may appear in any form.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import attrs

from smscd.smpp.codec import PduReader, encode
from smscd.smpp.constants import CommandStatus
from smscd.smpp.pdus import BindTransceiver, Pdu, SubmitSm, Unbind
from tests.e2e.conftest import start_daemon, wait_until

PASSWORDS = ("S3cr3tPw", "0therPw", "Wr0ngPw", "Pw\x1b[2J")
CONFIG = f"""
[smpp]
listen = "127.0.0.1:0"
[http]
listen = ""
[log]
level = "debug"
[store]
backend = "memory"
[[accounts]]
system_id = "acme"
password = "{PASSWORDS[0]}"
[[accounts]]
system_id = "other"
password = "{PASSWORDS[1]}"
virtual_numbers = ["72000"]
[[carriers]]
name = "instant"
type = "instant"
"""
# Terminal title, bell, newline, NEL (a C1 line break) and an octet that is not UTF-8.
HOSTILE_ID = "\x1b]0;x\x07\n\x85\xff"
HOSTILE_SOURCE = "\x1b[2J\r\n\x85\xffX"
HOSTILE_TEXT = b"\xff\xfe\x1b[31m\nnot utf-8: \xc3\x28 \x00"


class RawEsme:
    """Blocking SMPP over one socket, frames written by hand."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=5)
        self.reader = PduReader()
        self.sequence = 0

    def request(self, pdu: Pdu) -> Pdu:
        self.sequence += 1
        pdu = attrs.evolve(pdu, sequence_number=self.sequence)
        self.sock.sendall(encode(pdu))
        while (answer := self.reader.next_pdu()) is None:
            data = self.sock.recv(65536)
            assert data, "closed by the daemon"
            self.reader.feed(data)
        return answer

    def bind(self, system_id: str, password: str) -> int:
        return self.request(BindTransceiver(system_id=system_id, password=password)).command_status

    def close(self) -> None:
        self.sock.close()


def test_hostile_fields_are_escaped_and_passwords_never_logged(tmp_path: Path) -> None:
    config = tmp_path / "smscd.toml"
    config.write_text(CONFIG, encoding="utf-8")
    daemon = start_daemon(config=config)
    try:
        esme = RawEsme(daemon.smpp)
        assert esme.bind(HOSTILE_ID, PASSWORDS[3]) == CommandStatus.ESME_RINVSYSID
        assert esme.bind("acme", PASSWORDS[2]) == CommandStatus.ESME_RINVPASWD
        assert esme.bind("acme", PASSWORDS[0]) == CommandStatus.ESME_ROK
        # To another account's virtual number: it loops back as MO, whose log names the sender.
        submit = SubmitSm(
            source_addr=HOSTILE_SOURCE,
            destination_addr="72000",
            data_coding=3,  # Latin-1: every octet is a character, none can be refused
            short_message=HOSTILE_TEXT,
        )
        assert esme.request(submit).command_status == CommandStatus.ESME_ROK
        esme.request(Unbind())
        esme.close()
        # Wrong passwords until the address is locked out (bind_failure_limit 10 by default).
        for _ in range(12):
            guesser = RawEsme(daemon.smpp)
            guesser.bind("acme", PASSWORDS[2])
            guesser.close()
        wait_until(lambda: any('"mo_queued"' in line for line in daemon.lines))
    finally:
        assert daemon.stop() == 0
    lines = list(daemon.lines)
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    assert events[-1]["event"] == "shutdown_complete"
    for line in lines:
        body = line.rstrip("\n")
        assert body.isascii() and body.isprintable(), body
    output = "".join(lines)
    for password in PASSWORDS:
        assert password not in output
        assert json.dumps(password)[1:-1] not in output
    refused = [e for e in events if e["event"] == "bind_refused"]
    assert refused[0]["system_id"] == "\\x1b]0;x\\x07\\x0a\\x85\xff"
    (mo,) = [e for e in events if e["event"] == "mo_queued"]
    assert mo["source"] == "\\x1b[2J\\x0d\\x0a\\x85\xffX"
    lockouts = [e for e in events if e["event"] == "bind_lockout"]
    assert [(e["host"], e["level"]) for e in lockouts] == [("127.0.0.1", "warning")]
