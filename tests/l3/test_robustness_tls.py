"""SMPP over TLS with smpplib's ssl_context (issue 5, robustness: TLS): a round trip with its
receipt, plaintext on the TLS port, and TLS below 1.2, with trustme certificates.

smpplib is blocking, so it runs in a worker thread against the in-process daemon. It wraps its
socket without a server_hostname, so its context cannot check the host name; the certificate
chain is still verified against the test CA.
"""

from __future__ import annotations

import socket
import ssl
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
import smpplib.client
import smpplib.exceptions
import trio
import trustme
from robustness import make_config, serving

from smscd.config import Config


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def config(ca: trustme.CA, tmp_path: Path) -> Config:
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    return make_config(
        f'tls_listen = "127.0.0.1:0"\ntls_cert = "{cert_file}"\ntls_key = "{key_file}"\n'
    )


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False  # smpplib gives wrap_socket no server_hostname
    ca.configure_trust(context)
    return context


def old_tls_context(ca: trustme.CA) -> ssl.SSLContext:
    """A client that offers TLS 1.0 and 1.1 only. SECLEVEL=0 makes OpenSSL 3 really send such
    a hello: without it the client gives up by itself ("no ciphers available"), which would
    prove nothing about the server."""
    context = client_context(ca)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # that is the point of the test
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def smpplib_client(address: tuple[str, int], context: ssl.SSLContext | None) -> Any:
    host, port = address
    return smpplib.client.Client(
        host, port, timeout=5, ssl_context=context, allow_unknown_opt_params=True
    )


def round_trip(address: tuple[str, int], context: ssl.SSLContext) -> tuple[Any, Any]:
    """Bind, submit with a receipt requested, wait for both; the submit_sm_resp and receipt."""
    client = smpplib_client(address, context)
    sent: list[Any] = []
    received: list[Any] = []
    client.set_message_sent_handler(lambda pdu: sent.append(pdu))  # noqa: PLW0108
    client.set_message_received_handler(lambda pdu: received.append(pdu))  # noqa: PLW0108
    client.connect()
    try:
        client.bind_transceiver(system_id="acme", password="secret")
        client.send_message(
            source_addr="Acme",
            destination_addr="46700000001",
            short_message=b"over TLS",
            registered_delivery=1,
        )
        while not sent or not received:
            client.read_once()
        client.unbind()
    finally:
        client.disconnect()
    return sent[0], received[0]


def refused(address: tuple[str, int], context: ssl.SSLContext | None) -> Exception:
    client = smpplib_client(address, context)
    try:
        client.connect()
        client.bind_transceiver(system_id="acme", password="secret")
    except Exception as exc:
        return exc
    finally:
        client.disconnect()
    raise AssertionError("the bind went through")


async def test_smpplib_round_trip_over_tls(ca: trustme.CA, config: Config) -> None:
    async with serving(config) as (_, addresses):
        assert addresses.smpp_tls is not None
        response, receipt = await trio.to_thread.run_sync(
            round_trip, addresses.smpp_tls, client_context(ca)
        )
    assert response.status == 0
    message_id = response.message_id.decode()
    assert receipt.receipted_message_id.decode() == message_id
    assert b"stat:DELIVRD" in receipt.short_message


async def test_smpplib_in_plaintext_on_the_tls_port_is_closed(config: Config) -> None:
    async with serving(config) as (_, addresses):
        assert addresses.smpp_tls is not None
        started = time.monotonic()
        error = await trio.to_thread.run_sync(refused, addresses.smpp_tls, None)
    # The daemon reads the bind as a broken TLS hello and hangs up without an SMPP answer.
    assert isinstance(error, smpplib.exceptions.ConnectionError)
    assert time.monotonic() - started < 5


async def test_tls_below_1_2_is_refused_by_the_daemon(ca: trustme.CA, config: Config) -> None:
    async with serving(config) as (_, addresses):
        assert addresses.smpp_tls is not None
        old = old_tls_context(ca)
        error = await trio.to_thread.run_sync(refused, addresses.smpp_tls, old)
        assert isinstance(error, smpplib.exceptions.ConnectionError)

        def handshake() -> ssl.SSLError:
            with socket.create_connection(addresses.smpp_tls, timeout=5) as raw:
                try:
                    old.wrap_socket(raw)
                except ssl.SSLError as exc:
                    return exc
            raise AssertionError("a TLS 1.1 handshake succeeded")

        error = await trio.to_thread.run_sync(handshake)
    # The hello went out and the daemon ended the handshake (an alert or a hang-up), rather than
    # our own OpenSSL refusing to offer TLS 1.1.
    assert "NO_CIPHERS" not in str(error) and "NO_PROTOCOLS" not in str(error)
    assert isinstance(error, ssl.SSLEOFError) or "PROTOCOL_VERSION" in str(error)
