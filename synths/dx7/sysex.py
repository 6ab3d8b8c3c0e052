"""DX7 system-exclusive files: single voices (163 bytes) and 32-voice banks (4104 bytes).

Framing (Yamaha DX7 bulk dumps; ../shared/REFERENCE.md section 1)::

    single voice  F0 43 0n 00 01 1B  <155 unpacked voice bytes>    checksum F7
    32-voice bank F0 43 0n 09 20 00  <32 x 128 packed voice bytes> checksum F7

with ``n`` = MIDI channel - 1 and ``checksum = (-sum(data)) & 0x7F`` over the
data bytes. The 155-byte unpacked voice holds 21 bytes per operator, OP6 first,
then the pitch EG, algorithm, feedback, LFO, transpose and a 10-character name;
the 128-byte packed voice holds the same values with some fields sharing a byte
(17 bytes per operator). :class:`synths.dx7.voice.Voice` keeps ``ops[0]`` = OP1.

:func:`decode` is strict: every value must lie in its DX7 range and every bit a
field does not use must be clear, so what it accepts re-encodes byte for byte
(:func:`encode_single` / :func:`encode_bank` with the file's channel). Anything
else is a :class:`SysexError` naming the file and what is wrong with it.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from pathlib import Path

from soundmatch.errors import UserError
from synths.dx7.voice import OperatorData, Voice

SYSEX_START, SYSEX_END, YAMAHA = 0xF0, 0xF7, 0x43
FORMAT_SINGLE, FORMAT_BANK = 0x00, 0x09
UNPACKED_SIZE = 155  # data bytes of one voice in a single-voice dump
PACKED_SIZE = 128  # bytes of one voice inside a bank
BANK_VOICES = 32
HEADER_SIZE = 6
SINGLE_SIZE = HEADER_SIZE + UNPACKED_SIZE + 2  # 163
BANK_SIZE = HEADER_SIZE + BANK_VOICES * PACKED_SIZE + 2  # 4104
NAME_SIZE = 10

# (field, largest value) of the 21 operator bytes in unpacked order
OP_FIELDS: tuple[tuple[str, int], ...] = (
    *((f"R{i + 1}", 99) for i in range(4)),
    *((f"L{i + 1}", 99) for i in range(4)),
    ("break_point", 99),
    ("left_depth", 99),
    ("right_depth", 99),
    ("left_curve", 3),
    ("right_curve", 3),
    ("rate_scaling", 7),
    ("amp_mod_sens", 3),
    ("velocity_sens", 7),
    ("output_level", 99),
    ("mode", 1),
    ("coarse", 31),
    ("fine", 99),
    ("detune", 14),
)
# (field, largest value) of the global bytes 126-144; the name (145-154) follows
GLOBAL_FIELDS: tuple[tuple[str, int], ...] = (
    *((f"pitch_R{i + 1}", 99) for i in range(4)),
    *((f"pitch_L{i + 1}", 99) for i in range(4)),
    ("algorithm", 31),
    ("feedback", 7),
    ("osc_sync", 1),
    ("lfo_speed", 99),
    ("lfo_delay", 99),
    ("lfo_pmd", 99),
    ("lfo_amd", 99),
    ("lfo_sync", 1),
    ("lfo_wave", 5),
    ("pitch_mod_sens", 7),
    ("transpose", 48),
)


def _field_table() -> list[tuple[str, int]]:
    """(name, largest value) for each of the 155 unpacked bytes, e.g. ("OP6 R1", 99)."""
    table = [(f"OP{6 - k} {name}", top) for k in range(6) for name, top in OP_FIELDS]
    table += list(GLOBAL_FIELDS)
    table += [(f"name[{i}]", 127) for i in range(NAME_SIZE)]
    assert len(table) == UNPACKED_SIZE
    return table


FIELDS = _field_table()


class SysexError(UserError):
    """A file or byte string that is not a valid DX7 voice or bank (the message names it)."""


# --- Voice <-> 155 unpacked values ------------------------------------------------------


def voice_values(voice: Voice) -> list[int]:
    """The 155 unpacked values of ``voice`` in sysex order (OP6 first); not range-checked.

    Raises TypeError for a value that is not an integer.
    """
    values: list[int] = []
    for op in reversed(voice.ops):
        values += [*op.rates, *op.levels, op.break_point, op.left_depth, op.right_depth]
        values += [op.left_curve, op.right_curve, op.rate_scaling, op.amp_mod_sens]
        values += [op.velocity_sens, op.output_level, op.mode, op.coarse, op.fine, op.detune]
    values += [*voice.pitch_rates, *voice.pitch_levels, voice.algorithm, voice.feedback]
    values += [voice.osc_sync, voice.lfo_speed, voice.lfo_delay, voice.lfo_pmd, voice.lfo_amd]
    values += [voice.lfo_sync, voice.lfo_wave, voice.pitch_mod_sens, voice.transpose]
    values += [ord(c) for c in voice.name[:NAME_SIZE].ljust(NAME_SIZE)]
    # operator.index takes ints (numpy and 0-d torch integers too) and refuses 3.5
    return [operator.index(x) for x in values]


def voice_from_values(values: Sequence[int]) -> Voice:
    """The inverse of :func:`voice_values` (values assumed in range; see :func:`check_values`)."""
    v = [int(x) for x in values]
    ops = []
    for k in range(6):
        b = v[21 * k : 21 * (k + 1)]
        ops.append(
            OperatorData(
                rates=b[0:4],
                levels=b[4:8],
                break_point=b[8],
                left_depth=b[9],
                right_depth=b[10],
                left_curve=b[11],
                right_curve=b[12],
                rate_scaling=b[13],
                amp_mod_sens=b[14],
                velocity_sens=b[15],
                output_level=b[16],
                mode=b[17],
                coarse=b[18],
                fine=b[19],
                detune=b[20],
            )
        )
    g = v[126:145]
    return Voice(
        ops=ops[::-1],
        pitch_rates=g[0:4],
        pitch_levels=g[4:8],
        algorithm=g[8],
        feedback=g[9],
        osc_sync=g[10],
        lfo_speed=g[11],
        lfo_delay=g[12],
        lfo_pmd=g[13],
        lfo_amd=g[14],
        lfo_sync=g[15],
        lfo_wave=g[16],
        pitch_mod_sens=g[17],
        transpose=g[18],
        name="".join(chr(c) for c in v[145:155]),
    )


def check_values(values: Sequence[int]) -> str | None:
    """None when all 155 values are in range, else what is wrong (e.g. "OP2 detune = 15 (0-14)")."""
    if len(values) != UNPACKED_SIZE:
        return f"{len(values)} voice values, expected {UNPACKED_SIZE}"
    for value, (name, top) in zip(values, FIELDS, strict=True):
        if not 0 <= value <= top:
            return f"{name} = {value}, outside 0-{top}"
    return None


# --- 155 unpacked <-> 128 packed ----------------------------------------------------------


def pack(values: Sequence[int]) -> bytes:
    """155 in-range unpacked values -> the 128-byte packed voice of a bank."""
    u = list(values)
    out = bytearray(PACKED_SIZE)
    for k in range(6):
        src, dst = 21 * k, 17 * k
        out[dst : dst + 11] = bytes(u[src : src + 11])
        out[dst + 11] = u[src + 11] | u[src + 12] << 2  # left curve | right curve
        out[dst + 12] = u[src + 13] | u[src + 20] << 3  # rate scaling | detune
        out[dst + 13] = u[src + 14] | u[src + 15] << 2  # amp mod sens | velocity sens
        out[dst + 14] = u[src + 16]  # output level
        out[dst + 15] = u[src + 17] | u[src + 18] << 1  # mode | coarse
        out[dst + 16] = u[src + 19]  # fine
    out[102:110] = bytes(u[126:134])  # pitch EG
    out[110] = u[134]  # algorithm
    out[111] = u[135] | u[136] << 3  # feedback | osc key sync
    out[112:116] = bytes(u[137:141])  # LFO speed, delay, PMD, AMD
    out[116] = u[141] | u[142] << 1 | u[143] << 4  # LFO sync | wave | pitch mod sens
    out[117] = u[144]  # transpose
    out[118:128] = bytes(u[145:155])  # name
    return bytes(out)


# (packed byte offset within an operator, bits it may use) and the same for globals
_OP_PACKED_BITS = {11: 4, 12: 7, 13: 5, 15: 6}
_GLOBAL_PACKED_BITS = {110: 5, 111: 4, 116: 7}


def unpack(packed: bytes) -> tuple[list[int], str | None]:
    """128 packed bytes -> (155 unpacked values, None) or (values, what is wrong)."""
    p = packed
    for k in range(6):
        for offset, bits in _OP_PACKED_BITS.items():
            if p[17 * k + offset] >> bits:
                return [], f"OP{6 - k} packed byte {offset} = {p[17 * k + offset]} has unused bits set"
    for offset, bits in _GLOBAL_PACKED_BITS.items():
        if p[offset] >> bits:
            return [], f"packed byte {offset} = {p[offset]} has unused bits set"
    u = [0] * UNPACKED_SIZE
    for k in range(6):
        src, dst = 17 * k, 21 * k
        u[dst : dst + 11] = p[src : src + 11]
        u[dst + 11], u[dst + 12] = p[src + 11] & 3, p[src + 11] >> 2
        u[dst + 13], u[dst + 20] = p[src + 12] & 7, p[src + 12] >> 3
        u[dst + 14], u[dst + 15] = p[src + 13] & 3, p[src + 13] >> 2
        u[dst + 16] = p[src + 14]
        u[dst + 17], u[dst + 18] = p[src + 15] & 1, p[src + 15] >> 1
        u[dst + 19] = p[src + 16]
    u[126:134] = p[102:110]
    u[134] = p[110]
    u[135], u[136] = p[111] & 7, p[111] >> 3
    u[137:141] = p[112:116]
    u[141], u[142], u[143] = p[116] & 1, (p[116] >> 1) & 7, p[116] >> 4
    u[144] = p[117]
    u[145:155] = p[118:128]
    return u, check_values(u)


# --- decoding -----------------------------------------------------------------------------


def checksum(data: bytes) -> int:
    """The DX7 checksum of a dump's data bytes: ``(-sum(data)) & 0x7F``."""
    return (-sum(data)) & 0x7F


def _format_of(data: bytes, source: str) -> int:
    """Check the header; return the format byte (0 single voice, 9 bank)."""
    if not data:
        raise SysexError(f"{source}: empty file, not a DX7 sysex file")
    if data[0] != SYSEX_START:
        raise SysexError(f"{source}: not a sysex file (first byte 0x{data[0]:02X}, expected 0xF0)")
    if len(data) < HEADER_SIZE:
        raise SysexError(f"{source}: truncated sysex header ({len(data)} bytes)")
    if data[1] != YAMAHA:
        raise SysexError(f"{source}: not a Yamaha dump (manufacturer 0x{data[1]:02X}, expected 0x43)")
    if data[2] >> 4 != 0:
        raise SysexError(f"{source}: not a bulk dump (sub-status byte 0x{data[2]:02X}, expected 0x0n)")
    fmt = data[3]
    expected_count = {FORMAT_SINGLE: UNPACKED_SIZE, FORMAT_BANK: BANK_VOICES * PACKED_SIZE}
    if fmt not in expected_count:
        raise SysexError(
            f"{source}: format byte 0x{fmt:02X} is neither a DX7 single voice (0x00) "
            "nor a 32-voice bank (0x09)"
        )
    count = data[4] << 7 | data[5]
    if count != expected_count[fmt]:
        raise SysexError(
            f"{source}: byte count {count} in the header, expected {expected_count[fmt]} for a "
            f"{'single voice' if fmt == FORMAT_SINGLE else '32-voice bank'}"
        )
    return fmt


def decode(data: bytes, source: str = "<bytes>") -> list[Voice]:
    """Voices of a single-voice dump (a list of one) or of a 32-voice bank (32 voices).

    Args:
        data: the whole file.
        source: how to name the data in errors (usually the file's path).

    Raises:
        SysexError: not sysex, not a DX7 voice/bank, wrong length, truncated,
            bad checksum, or a value outside its DX7 range.
    """
    voices = decode_each(data, source)
    for i, voice in enumerate(voices):
        if isinstance(voice, str):
            raise SysexError(f"{source}: voice {i}: {voice}" if len(voices) > 1 else f"{source}: {voice}")
    return voices  # type: ignore[return-value]


def decode_each(data: bytes, source: str = "<bytes>") -> list[Voice | str]:
    """Like :func:`decode`, but a voice whose values are out of range (libraries hold many, e.g. 127
    in a 0-99 field) is the text of what is wrong in its place, not an error for the whole file.
    The file itself (header, length, checksum) must be sound: else SysexError."""
    data = bytes(data)
    fmt = _format_of(data, source)
    size = SINGLE_SIZE if fmt == FORMAT_SINGLE else BANK_SIZE
    kind = "single voice" if fmt == FORMAT_SINGLE else "32-voice bank"
    if len(data) < size:
        raise SysexError(f"{source}: truncated {kind}: {len(data)} bytes, expected {size}")
    if len(data) > size:
        raise SysexError(
            f"{source}: wrong length for a {kind}: {len(data)} bytes, expected {size} "
            "(a file with several sysex messages is not supported)"
        )
    if data[-1] != SYSEX_END:
        raise SysexError(f"{source}: the {kind} does not end with 0xF7 (last byte 0x{data[-1]:02X})")
    body = data[HEADER_SIZE:-2]
    high = next((i for i, b in enumerate(body) if b > 0x7F), None)
    if high is not None:
        raise SysexError(f"{source}: data byte {HEADER_SIZE + high} = 0x{body[high]:02X} is not 7-bit")
    expected = checksum(body)
    if data[-2] != expected:
        raise SysexError(f"{source}: bad checksum 0x{data[-2]:02X}, expected 0x{expected:02X}")
    if fmt == FORMAT_SINGLE:
        problem = check_values(body)
        return [problem if problem else voice_from_values(body)]
    voices: list[Voice | str] = []
    for i in range(BANK_VOICES):
        values, problem = unpack(body[i * PACKED_SIZE : (i + 1) * PACKED_SIZE])
        voices.append(problem if problem else voice_from_values(values))
    return voices


def read_voices(path: str | Path) -> list[Voice]:
    """The voices of a ``.syx`` file (1 for a single voice, 32 for a bank)."""
    return decode(_read(path), str(path))


def read_each(path: str | Path) -> list[Voice | str]:
    """The voices of a ``.syx`` file, each out-of-range one as what is wrong (:func:`decode_each`)."""
    return decode_each(_read(path), str(path))


def _read(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise SysexError(f"{path}: cannot read the file ({err.strerror or err})") from None


# --- encoding -----------------------------------------------------------------------------


def _checked_values(voice: Voice, what: str) -> list[int]:
    try:
        values = voice_values(voice)
    except (TypeError, ValueError, AttributeError) as err:
        raise SysexError(f"cannot encode {what}: {err}") from None
    problem = check_values(values)
    if problem:
        raise SysexError(f"cannot encode {what} '{voice.name.strip()}': {problem}")
    return values


def _sub_status(channel: int) -> int:
    if not 1 <= channel <= 16:
        raise SysexError(f"MIDI channel {channel} is outside 1-16")
    return channel - 1


def _frame(fmt: int, count: int, body: bytes, channel: int) -> bytes:
    header = bytes([SYSEX_START, YAMAHA, _sub_status(channel), fmt, count >> 7, count & 0x7F])
    return header + body + bytes([checksum(body), SYSEX_END])


def encode_single(voice: Voice, channel: int = 1) -> bytes:
    """A 163-byte single-voice dump of ``voice`` on MIDI ``channel`` (1-16)."""
    return _frame(FORMAT_SINGLE, UNPACKED_SIZE, bytes(_checked_values(voice, "voice")), channel)


def encode_bank(voices: Sequence[Voice], channel: int = 1) -> bytes:
    """A 4104-byte 32-voice bank; fewer than 32 voices are padded with init voices."""
    if len(voices) > BANK_VOICES:
        raise SysexError(f"a DX7 bank holds {BANK_VOICES} voices, got {len(voices)}")
    padded = [*voices, *(Voice() for _ in range(BANK_VOICES - len(voices)))]
    body = b"".join(pack(_checked_values(v, f"voice {i}")) for i, v in enumerate(padded))
    return _frame(FORMAT_BANK, BANK_VOICES * PACKED_SIZE, body, channel)


def write_single(path: str | Path, voice: Voice, channel: int = 1) -> None:
    """Write ``voice`` as a 163-byte single-voice ``.syx`` file."""
    Path(path).write_bytes(encode_single(voice, channel))


def write_bank(path: str | Path, voices: Sequence[Voice], channel: int = 1) -> None:
    """Write up to 32 voices as a 4104-byte bank ``.syx`` file (padded with init voices)."""
    Path(path).write_bytes(encode_bank(voices, channel))
