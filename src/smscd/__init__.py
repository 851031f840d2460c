"""smscd: an SMPP 3.4 SMSC simulator and gateway daemon on Trio."""

__version__ = "0.1.0"
