"""The command line as users type it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import RunningDaemon, start_daemon

ROOT = Path(__file__).resolve().parents[2]


def smscd(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smscd", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_check_config_accepts_the_annotated_config() -> None:
    result = smscd("check-config", str(ROOT / "conf" / "smscd.toml"))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout and "smppclient1" in result.stdout


def test_check_config_names_key_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[smpp]\nlisten = "127.0.0.1:2775"\n\n[[accounts]]\nsystem_id = "a"\n'
        'password = "p"\nmax_binds = -1\n'
    )
    result = smscd("check-config", str(bad))
    assert result.returncode == 2
    assert f"{bad}:7: accounts[0].max_binds:" in result.stderr


def test_check_config_rejects_unknown_keys(tmp_path: Path) -> None:
    bad = tmp_path / "typo.toml"
    bad.write_text(
        '[smpp]\nlisten = "127.0.0.1:2775"\nwindw = 5\n'
        '[[accounts]]\nsystem_id = "a"\npassword = "p"\n'
    )
    result = smscd("check-config", str(bad))
    assert result.returncode == 2
    assert ":3: smpp.windw:" in result.stderr


def test_run_refuses_a_bad_listen_flag() -> None:
    result = smscd("run", "--smpp-listen", "nonsense")
    assert result.returncode == 2
    assert "smpp.listen" in result.stderr


def test_send_prints_ids_and_receipts(daemon: RunningDaemon) -> None:
    host, port = daemon.smpp
    text = "A long message " * 15  # 225 characters: two parts
    result = smscd(
        "send", "--host", host, "--port", str(port), "--to", "46700000009", "--text", text
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    accepted = [line for line in lines if "accepted, message_id" in line]
    assert [line.split(":")[0] for line in accepted] == ["part 1/2", "part 2/2"]
    receipts = [line for line in lines if line.startswith("receipt: ")]
    assert len(receipts) == 2
    assert all("stat:DELIVRD err:201" in line for line in receipts)


def test_send_reports_a_refused_bind(daemon: RunningDaemon) -> None:
    host, port = daemon.smpp
    result = smscd(
        "send",
        "--host",
        host,
        "--port",
        str(port),
        "--password",
        "nope",
        "--to",
        "4670",
        "--text",
        "x",
    )
    assert result.returncode == 1
    assert "ESME_RINVPASWD" in result.stdout


def test_ready_line_is_printed_at_any_log_level() -> None:
    running = start_daemon("--log-level", "error")
    try:
        assert running.smpp[1] > 0  # learned from the smscd_ready line
    finally:
        assert running.stop() == 0
    events = [event["event"] for event in running.log_events()]
    # Only lifecycle events at level "error": what the store took up, then ready.
    assert events[:2] == ["store_resumed", "smscd_ready"]
    assert set(events) <= {
        "store_resumed",
        "smscd_ready",
        "signal_received",
        "shutdown_started",
        "shutdown_complete",
    }
    assert "shutdown_complete" in events


def test_store_commands_on_a_file_a_run_left(tmp_path: Path) -> None:
    store = tmp_path / "smscd.db"
    daemon = start_daemon("--store", str(store), "--time-scale", "50")
    try:
        sent = smscd(
            "send",
            "--port",
            str(daemon.smpp[1]),
            "--to",
            "46700000001",
            "--text",
            "kept on disk",
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr
        stats = smscd("store", "stats", "--store", str(store), "--json")  # while it runs
        assert stats.returncode == 0, stats.stderr
    finally:
        assert daemon.stop() == 0
    counts = json.loads(stats.stdout)
    assert counts["messages"] == 1
    assert counts["finished"] == 1
    exported = smscd("store", "export", "--store", str(store))
    assert exported.returncode == 0, exported.stderr
    [line] = exported.stdout.splitlines()
    record = json.loads(line)
    assert record["text"] == "kept on disk"
    assert [step["code"] for step in record["history"]][-1] == 201
    later = smscd("store", "export", "--store", str(store), "--since", "2999-01-01T00:00Z")
    assert later.stdout == ""
    vacuum = smscd("store", "vacuum", "--store", str(store))
    assert vacuum.returncode == 0, vacuum.stderr
    missing = smscd("store", "stats", "--store", str(tmp_path / "nope.db"))
    assert missing.returncode == 1
    assert "no such store" in missing.stderr


def test_a_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    daemon = start_daemon()
    try:
        host, port = daemon.smpp
        result = smscd(
            "run", "--smpp-listen", f"{host}:{port}", "--http-listen", "off", "--store", ":memory:"
        )
    finally:
        assert daemon.stop() == 0
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("smscd: cannot start:")
    assert "Traceback" not in result.stderr


def test_one_store_serves_one_daemon(tmp_path: Path) -> None:
    store = tmp_path / "smscd.db"
    daemon = start_daemon("--store", str(store))
    try:
        result = smscd("run", "--store", str(store), "--smpp-listen", "127.0.0.1:0")
    finally:
        assert daemon.stop() == 0
    assert result.returncode == 1
    assert "in use by another smscd" in result.stderr.splitlines()[-1]
