"""Git delta decoding: the instruction stream of OFS_DELTA / REF_DELTA pack entries.

Format (gitformat-pack, "Deltified representation"): two size varints (base size, then
result size; little-endian 7-bit groups), then instructions:

- ``1xxxxxxx`` copy from the base. Bits 0-3 say which of 4 little-endian offset bytes follow,
  bits 4-6 which of 3 size bytes follow; absent bytes are 0, and a size of 0 means 0x10000.
- ``0xxxxxxx`` with a value of 1..127: insert that many literal bytes that follow.
- ``0x00`` is reserved and rejected (git:patch-delta.c "unexpected delta opcode 0").

Rules:
1. Deltas are untrusted input. Every check git:patch-delta.c makes is made here: the
   declared base size equals the base, each copy stays inside the base, each insert inside
   the delta, the output never passes the declared result size and ends exactly at it.
2. The result size is capped by ``max_size`` *before* any output is produced, and output is
   never pre-allocated from a declared size ("delta bomb").
3. Every failure raises ``DeltaError``; nothing else escapes (no IndexError on short input).
"""

from __future__ import annotations

from app.git.errors import DeltaError

# A size varint of more than 10 bytes cannot fit 64 bits; git's get_delta_hdr_size stops
# at the end of the buffer, we also stop at 64 bits so a run of 0xff bytes cannot grow an int.
_MAX_VARINT_SHIFT = 63


def _varint(delta: bytes | memoryview, pos: int) -> tuple[int, int]:
    value = 0
    shift = 0
    end = len(delta)
    while True:
        if pos >= end:
            raise DeltaError("delta header truncated")
        byte = delta[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > _MAX_VARINT_SHIFT:
            raise DeltaError("delta header size varint too long")


def delta_header(delta: bytes | memoryview) -> tuple[int, int, int]:
    """Return ``(base_size, result_size, instructions_offset)`` of a delta.

    Works on a prefix of the delta too (at most 20 bytes are needed), which is how the object
    database reads a delta object's size without inflating the whole delta.
    """
    base_size, pos = _varint(delta, 0)
    result_size, pos = _varint(delta, pos)
    return base_size, result_size, pos


def apply_delta(base: bytes | memoryview, delta: bytes | memoryview, max_size: int) -> bytes:
    """Apply ``delta`` to ``base`` and return the result.

    Raises ``DeltaError`` if the delta is malformed, does not fit ``base``, or declares a
    result larger than ``max_size``.
    """
    base_size, result_size, pos = delta_header(delta)
    if base_size != len(base):
        raise DeltaError(f"delta expects a base of {base_size} bytes, base has {len(base)}")
    if result_size > max_size:
        raise DeltaError(f"delta result of {result_size} bytes exceeds the cap of {max_size}")
    out = bytearray()
    end = len(delta)
    while pos < end:
        op = delta[pos]
        pos += 1
        if op & 0x80:
            # Copy: gather the optional little-endian offset and size bytes.
            offset = 0
            size = 0
            for bit, shift in ((0x01, 0), (0x02, 8), (0x04, 16), (0x08, 24)):
                if op & bit:
                    if pos >= end:
                        raise DeltaError("delta copy instruction truncated")
                    offset |= delta[pos] << shift
                    pos += 1
            for bit, shift in ((0x10, 0), (0x20, 8), (0x40, 16)):
                if op & bit:
                    if pos >= end:
                        raise DeltaError("delta copy instruction truncated")
                    size |= delta[pos] << shift
                    pos += 1
            if size == 0:
                size = 0x10000
            if offset + size > base_size:
                raise DeltaError(
                    f"delta copy {offset}+{size} is outside the base of {base_size} bytes"
                )
            if len(out) + size > result_size:
                raise DeltaError("delta output overruns its declared result size")
            out += base[offset : offset + size]
        elif op:
            if pos + op > end:
                raise DeltaError("delta insert instruction runs past the end of the delta")
            if len(out) + op > result_size:
                raise DeltaError("delta output overruns its declared result size")
            out += delta[pos : pos + op]
            pos += op
        else:
            raise DeltaError("delta opcode 0 is reserved")
    if len(out) != result_size:
        raise DeltaError(f"delta produced {len(out)} bytes, declared {result_size}")
    return bytes(out)
