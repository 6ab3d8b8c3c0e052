"""DX7 sysex codec: framing, checksums, layouts, byte-exact round trips, clear errors, fuzzing."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soundmatch.errors import UserError
from synths.dx7 import sysex
from synths.dx7.sysex import SysexError, decode, encode_bank, encode_single, read_voices
from synths.dx7.voice import OperatorData, Voice


def random_voice(rng: random.Random, name: str = "") -> Voice:
    """A voice with every field drawn uniformly from its DX7 range."""
    values = [rng.randint(0, top) for _, top in sysex.FIELDS]
    chars = name.ljust(10)[:10] if name else "".join(rng.choice("ABCDEFGHIJ 0123456789-") for _ in range(10))
    values[145:155] = [ord(c) for c in chars]
    return sysex.voice_from_values(values)


@pytest.fixture(scope="module")
def bank_bytes() -> bytes:
    rng = random.Random(7)
    return encode_bank([random_voice(rng) for _ in range(32)])


def test_single_voice_layout_matches_the_dx7_table() -> None:
    """Byte positions of a few fields (REFERENCE.md section 1), OP6 first."""
    voice = Voice(name="TEST VOICE")
    voice.ops[5].rates = [11, 12, 13, 14]  # OP6 -> bytes 0-3
    voice.ops[0].output_level = 77  # OP1 -> byte 5*21+16
    voice.ops[0].detune = 3
    voice.algorithm, voice.feedback, voice.transpose = 21, 6, 36
    data = encode_single(voice, channel=3)
    assert len(data) == 163
    assert data[:6] == bytes([0xF0, 0x43, 0x02, 0x00, 0x01, 0x1B])
    body = data[6:-2]
    assert list(body[0:4]) == [11, 12, 13, 14]
    assert body[5 * 21 + 16] == 77 and body[5 * 21 + 20] == 3
    assert body[134] == 21 and body[135] == 6 and body[144] == 36
    assert body[145:155] == b"TEST VOICE"
    assert (sum(body) + data[-2]) % 128 == 0
    assert data[-1] == 0xF7


def test_bank_packed_layout() -> None:
    """Shared bytes of the 128-byte packed form: LC|RC<<2, RS|DET<<3, AMS|KVS<<2, mode|coarse<<1 ..."""
    op6 = OperatorData(left_curve=2, right_curve=3, rate_scaling=5, detune=14, amp_mod_sens=1)
    op6.velocity_sens, op6.mode, op6.coarse, op6.fine, op6.output_level = 6, 1, 17, 42, 88
    voice = Voice(ops=[OperatorData() for _ in range(5)] + [op6], feedback=5, osc_sync=1)
    voice.lfo_sync, voice.lfo_wave, voice.pitch_mod_sens = 1, 4, 7
    data = encode_bank([voice])
    assert len(data) == 4104
    assert data[:6] == bytes([0xF0, 0x43, 0x00, 0x09, 0x20, 0x00])
    p = data[6:134]
    assert p[11] == 2 | 3 << 2 and p[12] == 5 | 14 << 3 and p[13] == 1 | 6 << 2
    assert p[14] == 88 and p[15] == 1 | 17 << 1 and p[16] == 42
    assert p[111] == 5 | 1 << 3 and p[116] == 1 | 4 << 1 | 7 << 4
    assert (sum(data[6:-2]) + data[-2]) % 128 == 0


def test_bank_round_trip_is_byte_exact(bank_bytes: bytes) -> None:
    voices = decode(bank_bytes, "bank.syx")
    assert len(voices) == 32
    assert encode_bank(voices) == bank_bytes
    for channel in (1, 16):
        other = encode_bank(voices, channel=channel)
        assert other[2] == channel - 1
        assert encode_bank(decode(other), channel=channel) == other


def test_single_round_trip_is_byte_exact() -> None:
    rng = random.Random(3)
    for _ in range(50):
        voice = random_voice(rng)
        data = encode_single(voice, channel=rng.randint(1, 16))
        (back,) = decode(data)
        assert back == voice
        assert encode_single(back, channel=data[2] + 1) == data


def test_bank_pads_with_init_voices() -> None:
    rng = random.Random(1)
    mine = [random_voice(rng) for _ in range(3)]
    voices = decode(encode_bank(mine))
    assert voices[:3] == mine
    assert voices[3:] == [Voice() for _ in range(29)]


def test_files(tmp_path: Path) -> None:
    rng = random.Random(2)
    voice = random_voice(rng, "FILE ONE")
    sysex.write_single(tmp_path / "one.syx", voice)
    sysex.write_bank(tmp_path / "bank.syx", [voice, voice])
    assert read_voices(tmp_path / "one.syx") == [voice]
    assert read_voices(tmp_path / "bank.syx")[:2] == [voice, voice]
    assert (tmp_path / "one.syx").stat().st_size == 163
    assert (tmp_path / "bank.syx").stat().st_size == 4104
    with pytest.raises(SysexError, match="missing.syx: cannot read"):
        read_voices(tmp_path / "missing.syx")


def _corrupt(data: bytes, index: int, value: int, fix_checksum: bool = True) -> bytes:
    out = bytearray(data)
    out[index] = value
    if fix_checksum:
        out[-2] = sysex.checksum(bytes(out[6:-2]))
    return bytes(out)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: b"", "empty file"),
        (lambda d: b"RIFF" + d[4:], "not a sysex file"),
        (lambda d: d[:100], "truncated 32-voice bank: 100 bytes, expected 4104"),
        (lambda d: d[:4], "truncated sysex header"),
        (lambda d: d + b"\xf0\xf7", "wrong length for a 32-voice bank: 4106 bytes"),
        (lambda d: _corrupt(d, -2, (d[-2] + 1) % 128, fix_checksum=False), "bad checksum"),
        (lambda d: _corrupt(d, 1, 0x41), "not a Yamaha dump"),
        (lambda d: _corrupt(d, 3, 0x05), "format byte 0x05"),
        (lambda d: _corrupt(d, 4, 0x10), "byte count 2048"),
        (lambda d: _corrupt(d, -1, 0x00), "does not end with 0xF7"),
        (lambda d: _corrupt(d, 6 + 5, 0x90), "data byte 11 = 0x90 is not 7-bit"),
        (lambda d: _corrupt(d, 6 + 128 + 14, 100), "voice 1: OP6 output_level = 100, outside 0-99"),
        (lambda d: _corrupt(d, 6 + 128 + 12, 7 | 15 << 3), "voice 1: OP6 detune = 15, outside 0-14"),
        (lambda d: _corrupt(d, 6 + 110, 32), "voice 0: packed byte 110 = 32 has unused bits set"),
    ],
)
def test_bad_banks_name_the_file_and_the_fault(bank_bytes: bytes, mutate, message: str) -> None:
    with pytest.raises(SysexError, match=message) as err:
        decode(mutate(bank_bytes), "cart/rom9.syx")
    assert str(err.value).startswith("cart/rom9.syx: ")
    assert isinstance(err.value, UserError)


def test_bad_single_voice_values() -> None:
    data = encode_single(Voice())
    with pytest.raises(SysexError, match="x.syx: algorithm = 32, outside 0-31"):
        decode(_corrupt(data, 6 + 134, 32), "x.syx")
    with pytest.raises(SysexError, match="truncated single voice: 162 bytes, expected 163"):
        decode(data[:-1], "x.syx")


def test_encoding_refuses_out_of_range_voices() -> None:
    voice = Voice()
    voice.ops[1].detune = 15
    with pytest.raises(SysexError, match="OP2 detune = 15, outside 0-14"):
        encode_single(voice)
    voice = Voice(name="CAFÉ")
    with pytest.raises(SysexError, match=r"name\[3\] = 201"):
        encode_bank([voice])
    voice = Voice(feedback=2.5)  # type: ignore[arg-type]
    with pytest.raises(SysexError, match="cannot encode voice"):
        encode_single(voice)
    with pytest.raises(SysexError, match="holds 32 voices, got 33"):
        encode_bank([Voice()] * 33)
    with pytest.raises(SysexError, match="channel 17"):
        encode_single(Voice(), channel=17)


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=5000))
def test_fuzz_random_bytes_only_raise_sysex_error(data: bytes) -> None:
    try:
        voices = decode(data, "fuzz.syx")
    except SysexError:
        return
    assert len(voices) in (1, 32)


@FUZZ
@given(
    st.sampled_from(["single", "bank"]),
    st.lists(st.tuples(st.integers(0, 4103), st.integers(0, 255)), min_size=1, max_size=8),
    st.booleans(),
    st.integers(0, 4200),
)
def test_fuzz_mutated_files_only_raise_sysex_error(kind, edits, fix_checksum, cut) -> None:
    rng = random.Random(len(edits))
    data = encode_single(random_voice(rng)) if kind == "single" else encode_bank([random_voice(rng)])
    out = bytearray(data)
    for index, value in edits:
        out[index % len(out)] = value
    if fix_checksum and len(out) > 8:
        out[-2] = sysex.checksum(bytes(out[6:-2])) if max(out[6:-2]) < 128 else out[-2]
    out = out[: max(cut, 1)]
    try:
        voices = decode(bytes(out), "mutated.syx")
    except SysexError:
        return
    # whatever decodes is a valid dump, so it re-encodes to exactly the same bytes
    again = encode_single(voices[0], out[2] + 1) if len(voices) == 1 else encode_bank(voices, out[2] + 1)
    assert again == bytes(out)
