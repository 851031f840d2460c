"""Pure SMS text handling (layer L0): stdlib and attrs only, independent of ``smscd.smpp``.

Modules:
    gsm7: GSM 03.38 default alphabet and extension table; septet packing.
    coding: ``data_coding`` values and the text codecs behind them.
    udh: User Data Header parsing and concatenation elements.
    segments: counting and splitting into parts (UDH or SAR), per the operator's tables.
    reassembly: a buffer that joins concatenated parts, with timeouts and a bound.
"""
