"""The one protocol error of the SMPP codec, carrying its own wire answer."""

from __future__ import annotations

from smscd.smpp.constants import CommandId, CommandStatus


def _name(enum_type: type[CommandStatus] | type[CommandId], value: int) -> str:
    try:
        return enum_type(value).name
    except ValueError:
        return f"0x{value:08X}"


class SmppError(Exception):
    """A PDU the peer sent cannot be accepted.

    The session answers it itself: with the request's response PDU carrying
    ``command_status`` when ``command_id`` is a known request, otherwise with a generic_nack
    (SMPP 3.4 §3.3, §4.3). ``fatal`` errors (a bad command_length, §3.2) leave the byte stream
    out of step, so the connection must be closed after answering.

    Attributes:
        command_status: the ``ESME_R*`` status to answer with (a ``CommandStatus`` value).
        command_id: the offending frame's command_id, ``None`` when not read.
        sequence_number: the offending frame's sequence_number, 0 when not read.
        fatal: True when the stream cannot be resynchronised.
    """

    command_status: int
    command_id: int | None
    sequence_number: int
    fatal: bool

    def __init__(
        self,
        command_status: int,
        message: str,
        *,
        command_id: int | None = None,
        sequence_number: int = 0,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.command_status = command_status
        self.command_id = command_id
        self.sequence_number = sequence_number
        self.fatal = fatal

    @property
    def message(self) -> str:
        """The human-readable reason, without the status and header details."""
        return str(self.args[0])

    def __str__(self) -> str:
        where = ""
        if self.command_id is not None:
            where = f" in {_name(CommandId, self.command_id).lower()} seq={self.sequence_number}"
        fatal = " (fatal)" if self.fatal else ""
        return f"{_name(CommandStatus, self.command_status)}{fatal}: {self.message}{where}"

    def __repr__(self) -> str:
        return (
            f"SmppError({self.command_status:#x}, {self.message!r}, "
            f"command_id={self.command_id!r}, sequence_number={self.sequence_number}, "
            f"fatal={self.fatal})"
        )

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only attributes would be lost by Exception's default pickling.
        return (
            _rebuild,
            (
                self.command_status,
                self.message,
                self.command_id,
                self.sequence_number,
                self.fatal,
            ),
        )


def _rebuild(
    command_status: int,
    message: str,
    command_id: int | None,
    sequence_number: int,
    fatal: bool,
) -> SmppError:
    return SmppError(
        command_status,
        message,
        command_id=command_id,
        sequence_number=sequence_number,
        fatal=fatal,
    )
