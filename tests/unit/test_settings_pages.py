"""The pages' settings: the language forced or chosen per request, more catalogs from an
operator's directory, the time zone, and the names of known networks; each bad value a
named problem at start-up."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from verifier.errors import SettingsInvalid
from verifier.settings import load_settings, read_settings

KEYS = "k1:" + "s" * 32


def env(**overrides: str) -> dict[str, str]:
    """A minimal valid environment plus VERIFIER_-prefixed overrides."""
    return {"VERIFIER_JWT_KEYS": KEYS, **{f"VERIFIER_{k}": v for k, v in overrides.items()}}


def _problems(**overrides: str) -> tuple[str, ...]:
    return read_settings(env(**overrides)).problems


def _catalog_dir(root: Path, language: str, messages: dict[str, str]) -> Path:
    catalog = Catalog(locale=language, domain="verifier")
    for message, translation in messages.items():
        catalog.add(message, translation)
    target = root / language / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "verifier.po").open("wb") as out:
        write_po(out, catalog)
    return root


def test_by_default_each_request_chooses_and_times_are_in_utc() -> None:
    loaded = load_settings(env())
    assert loaded.language == ""
    assert loaded.locale_dir is None
    assert loaded.time_zone == "UTC"
    assert loaded.network_names == ()


@pytest.mark.parametrize(("raw", "tag"), [("de", "de"), ("FR", "fr"), ("en", "en"), ("auto", "")])
def test_a_shipped_language_can_be_forced(raw: str, tag: str) -> None:
    assert load_settings(env(LANGUAGE=raw)).language == tag


def test_an_unknown_language_is_refused_naming_the_ones_there_are() -> None:
    (problem,) = _problems(LANGUAGE="klingon")
    assert problem.startswith("VERIFIER_LANGUAGE: 'klingon' is not one of the pages' languages")
    assert "en, de, fr" in problem


def test_a_locale_dir_adds_languages_that_can_then_be_forced(tmp_path: Path) -> None:
    _catalog_dir(tmp_path, "es", {"Sign in": "Iniciar sesión"})

    loaded = load_settings(env(LOCALE_DIR=str(tmp_path), LANGUAGE="es"))

    assert loaded.locale_dir == tmp_path
    assert loaded.language == "es"


def _absent(root: Path) -> Path:
    return root / "absent"


def _unknown_language(root: Path) -> Path:
    target = root / "xx" / "LC_MESSAGES"
    target.mkdir(parents=True)
    (target / "verifier.po").write_text('msgid "a"\nmsgstr "b"\n', encoding="utf-8")
    return root


def _broken(root: Path) -> Path:
    target = root / "de" / "LC_MESSAGES"
    target.mkdir(parents=True)
    (target / "verifier.po").write_text(
        'msgid "a"\nthis line is no part of a catalog\n', encoding="utf-8"
    )
    return root


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (_absent, "is not a directory"),
        (_broken, "is not a valid catalog"),
        (_unknown_language, "'xx' is not a language Babel knows"),
    ],
)
def test_a_bad_locale_dir_stops_start_up_naming_the_file(
    tmp_path: Path, make: Callable[[Path], Path], problem: str
) -> None:
    directory = make(tmp_path)

    (found,) = _problems(LOCALE_DIR=str(directory))

    assert found.startswith("VERIFIER_LOCALE_DIR: ")
    assert problem in found


def test_a_relative_locale_dir_is_refused() -> None:
    (problem,) = _problems(LOCALE_DIR="locales")
    assert problem == "VERIFIER_LOCALE_DIR: 'locales' must be an absolute path"


def test_a_time_zone_is_an_iana_name() -> None:
    assert load_settings(env(TIME_ZONE="Europe/Berlin")).time_zone == "Europe/Berlin"
    (problem,) = _problems(TIME_ZONE="Mars/Olympus")
    assert problem.startswith("VERIFIER_TIME_ZONE: 'Mars/Olympus' is not a time zone")


def test_network_names_are_read_first_match_first() -> None:
    loaded = load_settings(
        env(NETWORK_NAMES="10.8.0.0/16=Office VPN, 10.0.0.1/8 = Company  network,fd00::/8=Lab")
    )
    assert loaded.network_names == (
        (ipaddress.ip_network("10.8.0.0/16"), "Office VPN"),
        (ipaddress.ip_network("10.0.0.0/8"), "Company network"),
        (ipaddress.ip_network("fd00::/8"), "Lab"),
    )


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("10.8.0.0/16", "is not NETWORK=NAME"),
        ("10.8.0.0/16=", "is not NETWORK=NAME"),
        ("office=Office", "'office' is not a network"),
        ("10.8.0.0/16=" + "x" * 41, "the name must be 1 to 40 printable characters"),
    ],
)
def test_bad_network_names_are_refused_naming_the_part(raw: str, problem: str) -> None:
    (found,) = _problems(NETWORK_NAMES=raw)
    assert found.startswith("VERIFIER_NETWORK_NAMES: ")
    assert problem in found


def test_every_bad_page_setting_is_listed_at_once() -> None:
    with pytest.raises(SettingsInvalid) as raised:
        load_settings(env(LANGUAGE="xx", TIME_ZONE="Nowhere", NETWORK_NAMES="bad"))
    assert len(raised.value.problems) == 3
