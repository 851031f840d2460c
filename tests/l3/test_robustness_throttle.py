"""Throttling exactness (issue 5, robustness): an account limited to 100 submit_sm/s with a
burst of 10, offered 500/s for 10 s on virtual time, accepts what the token bucket allows
(burst + rate x elapsed at most, rate x elapsed at least), refuses the rest with
ESME_RTHROTTLED, and answers every submit. scripts/throttle_smpp.py is the same on real time.
"""

from __future__ import annotations

from collections import Counter

import trio
import trio.testing
from robustness import connect, daemon_in_memory
from test_connection_timers import CONFIG, bind

from smscd.smpp.codec import PduReader, encode
from smscd.smpp.constants import CommandStatus
from smscd.smpp.pdus import SubmitSm, SubmitSmResp

RATE, BURST, OFFERED, SECONDS = 100, 10, 500, 10


async def test_throttling_admits_the_token_bucket_bound_and_answers_every_submit(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limits = f'password = "secret"\nthroughput = {RATE}\nburst = {BURST}\n'
    text = CONFIG.replace('password = "secret"\n', limits)
    async with daemon_in_memory(text) as (daemon, nursery):
        peer = connect(daemon, nursery)
        await bind(peer)
        answers: dict[int, int] = {}

        async def read_answers() -> None:
            reader = PduReader()
            while data := await peer.stream.receive_some(65536):
                reader.feed(data)
                for pdu in reader:
                    if isinstance(pdu, SubmitSmResp):
                        answers[pdu.sequence_number] = pdu.command_status

        nursery.start_soon(read_answers)
        total = OFFERED * SECONDS
        start = trio.current_time()
        for n in range(total):
            await trio.sleep_until(start + n / OFFERED)
            submit = SubmitSm(sequence_number=100 + n, destination_addr="4670", short_message=b"x")
            await peer.stream.send_all(encode(submit))
        elapsed = trio.current_time() - start
        await trio.sleep(1)
    assert sorted(answers) == list(range(100, 100 + total))  # none silently dropped
    statuses = Counter(answers.values())
    assert set(statuses) == {CommandStatus.ESME_ROK, CommandStatus.ESME_RTHROTTLED}
    accepted = statuses[CommandStatus.ESME_ROK]
    assert RATE * elapsed <= accepted <= BURST + RATE * elapsed
