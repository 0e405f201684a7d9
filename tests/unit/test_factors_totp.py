"""TOTP codes: which time step a code belongs to, the skew accepted, the enrolment QR code."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.factors import STEP_SECONDS, matching_step, new_secret, provisioning_uri, qr_code_svg

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = 1_796_000_015.0  # 15 s into a step
CURRENT = int(NOW // STEP_SECONDS)


def _code(step: int, secret: str = SECRET) -> str:
    return pyotp.HOTP(secret).at(step)


def test_the_current_code_matches_the_current_step() -> None:
    assert matching_step(SECRET, _code(CURRENT), NOW) == CURRENT


@pytest.mark.parametrize("offset", [-1, 1])
def test_a_code_one_step_off_is_accepted_for_its_own_step(offset: int) -> None:
    assert matching_step(SECRET, _code(CURRENT + offset), NOW) == CURRENT + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_a_code_two_or_more_steps_off_is_refused(offset: int) -> None:
    assert matching_step(SECRET, _code(CURRENT + offset), NOW) is None


def test_another_secrets_code_is_refused() -> None:
    assert matching_step(SECRET, _code(CURRENT, new_secret()), NOW) is None


def test_spaces_people_type_are_ignored() -> None:
    code = _code(CURRENT)
    assert matching_step(SECRET, f" {code[:3]} {code[3:]} ", NOW) == CURRENT


@given(st.text(max_size=12))
def test_anything_but_six_digits_of_the_window_is_refused(code: str) -> None:
    window = {_code(step) for step in range(CURRENT - 1, CURRENT + 2)}
    expected = code.strip().replace(" ", "") in window
    assert (matching_step(SECRET, code, NOW) is not None) is expected


@pytest.mark.parametrize(
    "code",
    ["\u0661\u0662\u0663\u0664\u0665\u0666", "\uff11\uff12\uff13\uff14\uff15\uff16", "12345\u0666"],
)
def test_six_digits_of_another_script_are_refused_not_raised(code: str) -> None:
    # Arabic-Indic and full-width digits.
    # str.isdigit() holds for them; the ASCII check keeps them from the comparison, which
    # raises on text that is not ASCII.
    assert matching_step(SECRET, code, NOW) is None


def test_new_secrets_are_160_bit_base32_and_differ() -> None:
    first, second = new_secret(), new_secret()
    assert first != second
    assert len(first) == 32
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def test_the_provisioning_uri_names_the_account_the_issuer_and_the_defaults() -> None:
    uri = provisioning_uri(SECRET, "alice", "Example Portal")
    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert query["secret"] == [SECRET]
    assert query["issuer"] == ["Example Portal"]
    assert "alice" in parts.path


def test_the_qr_code_is_an_inline_svg_with_nothing_to_fetch_or_run() -> None:
    svg = qr_code_svg(provisioning_uri(SECRET, "alice", "Example Portal"))
    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
    lowered = svg.lower()
    assert "<script" not in lowered
    assert "href" not in lowered
    assert "<title>Scan with your authenticator app</title>" in svg


def test_the_qr_code_is_drawn_with_15_percent_error_correction_at_4_px_a_module() -> None:
    # Level M fits this URI in a version 6 symbol (41 modules; level L would fit version 5,
    # 37), plus a quiet zone of 4 modules each side: 49 modules of 4 px.
    svg = qr_code_svg(provisioning_uri(SECRET, "alice", "Example Portal"))
    assert svg.startswith('<svg width="196" height="196"')
