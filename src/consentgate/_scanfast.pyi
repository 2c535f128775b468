def boring_end(data: bytes, pos: int, kind: int, /) -> int:
    """Where the bytes that ``consentgate.scanner``'s skip regex of ``kind`` skips end."""

def inline_script(data: bytes, pos: int, /) -> tuple[int, int, int] | None:
    """An inline script at ``pos`` (``consentgate.scanner``'s ``_INLINE_SCRIPT``): its text's
    start and end and where it ends, or None."""
