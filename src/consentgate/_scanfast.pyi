def boring_end(data: bytes, pos: int, kind: int, /) -> int:
    """Where the bytes that ``consentgate.scanner``'s skip regex of ``kind`` skips end."""
