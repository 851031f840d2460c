"""Sans-IO SMPP 3.4: constants, PDUs, codec and session; stdlib and attrs only."""
