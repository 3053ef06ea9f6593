"""Card identifiers written as 26 Crockford Base32 digits, the way ULIDs are."""

from __future__ import annotations

import uuid

import pytest

from wallet.crockford import ALPHABET, decode_uuid, encode_uuid
from wallet.errors import MalformedCode

# Python's int() reads base 32 with the digits 0-9A-V; mapping Crockford's alphabet onto that
# gives a reference decoder that shares no code with the one under test.
_TO_PYTHON_BASE32 = str.maketrans(ALPHABET, "0123456789ABCDEFGHIJKLMNOPQRSTUV")


def reference_decode(text: str) -> int:
    return int(text.translate(_TO_PYTHON_BASE32), 32)


@pytest.mark.parametrize(
    ("card_id", "text"),
    [
        (uuid.UUID(int=0), "0" * 26),
        (uuid.UUID(int=(1 << 128) - 1), "7" + "Z" * 25),
        (uuid.UUID(int=1), "0" * 25 + "1"),
        (uuid.UUID(int=31), "0" * 25 + "Z"),
        (uuid.UUID(int=32), "0" * 24 + "10"),
        (uuid.UUID(int=1 << 125), "1" + "0" * 25),
        # The ULID spec's example, read as a 128-bit number.
        (uuid.UUID("01563e3a-b5d3-d676-4c61-efb99302bd5b"), "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
    ],
)
def test_uuid_encodes_to_known_crockford_text(card_id: uuid.UUID, text: str) -> None:
    assert encode_uuid(card_id) == text
    assert decode_uuid(text) == card_id


def test_random_uuids_round_trip_and_agree_with_a_reference_decoder() -> None:
    for _ in range(500):
        card_id = uuid.uuid4()
        text = encode_uuid(card_id)
        assert len(text) == 26
        assert set(text) <= set(ALPHABET)
        assert text[0] <= "7"
        assert reference_decode(text) == card_id.int
        assert decode_uuid(text) == card_id


def test_decoding_ignores_case_and_reads_i_l_as_one_and_o_as_zero() -> None:
    card_id = uuid.UUID(int=reference_decode("01ARZ3NDEKTSV4RRFFQ69G5FAV"))
    assert decode_uuid("01arz3ndektsv4rrffq69g5fav") == card_id
    assert decode_uuid("O1ARZ3NDEKTSV4RRFFQ69G5FAV") == card_id
    assert decode_uuid("0IARZ3NDEKTSV4RRFFQ69G5FAV") == card_id
    assert decode_uuid("0lARZ3NDEKTSV4RRFFQ69G5FAV") == card_id


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0" * 25,
        "0" * 27,
        "8" + "0" * 25,
        "Z" * 26,
        "U" + "0" * 25,
        "0" * 25 + "U",
        "0000-0000-0000-0000-000000",
        " " + "0" * 25,
        # Dotless i upper-cases to "I"; it must not pass as the digit 1.
        "\u0131" + "0" * 25,
    ],
)
def test_text_that_is_not_exactly_26_crockford_digits_up_to_128_bits_is_refused(
    text: str,
) -> None:
    with pytest.raises(MalformedCode):
        decode_uuid(text)
