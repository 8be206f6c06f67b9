"""Raw HPACK pieces (RFC 7541) for field blocks that hpack's encoder would not produce."""
from __future__ import annotations


def integer(value: int, prefix: int, flags: int = 0) -> bytes:
    """§5.1: an integer with an N-bit prefix; `flags` are the bits above the prefix."""
    top = (1 << prefix) - 1
    if value < top:
        return bytes([flags | value])
    out, value = bytearray([flags | top]), value - top
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    return bytes(out + bytes([value]))
