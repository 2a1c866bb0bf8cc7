"""The secret mask on plain data: every form a credential comes back in, the registry of live
secrets, and log records (the CLI-level checks live in test_redaction.py)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from urllib.parse import quote, quote_plus

import pytest

from reconciler.api import redaction
from reconciler.api.redaction import SecretMask, install_log_redaction, redact, register, retained

SECRET = "iw_SECRETKEY_1f2e3d4c5b6a_zQxWvRkPmN"
ODD = "k3y/with+plus=and'quote\"back\\slash&more"


@pytest.mark.parametrize("secret", [SECRET, ODD], ids=["plain", "odd characters"])
@pytest.mark.parametrize(
    "form",
    [
        lambda s: s,
        lambda s: quote(s, safe=""),
        quote,
        quote_plus,
        lambda s: quote(s, safe="").lower(),
        lambda s: repr(s.encode()),
        repr,
        json.dumps,
        lambda s: f"HTTP/1.1 2OO {s}",
        str.upper,
    ],
    ids=[
        "whole",
        "url-encoded",
        "url-encoded path",
        "form-encoded",
        "lower-case escapes",
        "bytes repr",
        "repr",
        "json string",
        "status line",
        "upper case",
    ],
)
def test_every_textual_form_of_a_secret_is_masked(secret: str, form: Callable[[str], str]) -> None:
    text = f"before {form(secret)} after"
    masked = SecretMask([secret])(text)
    assert masked.startswith("before ") and masked.endswith(" after")
    assert "***" in masked
    assert secret.lower() not in masked.lower()
    assert quote(secret, safe="").lower() not in masked.lower()


@pytest.mark.parametrize("prefix", [b"", b"a", b"ab", b"user:"], ids=lambda p: f"{len(p)} before")
@pytest.mark.parametrize(
    "encode", [base64.b64encode, base64.urlsafe_b64encode], ids=["standard", "urlsafe"]
)
@pytest.mark.parametrize("secret", [SECRET, ODD], ids=["plain", "odd characters"])
def test_base64_is_masked_at_every_alignment_inside_a_longer_string(
    prefix: bytes, encode: Callable[[bytes], bytes], secret: str
) -> None:
    encoded = encode(prefix + secret.encode() + b"-tail").decode()
    masked = SecretMask([secret])(f"Authorization: Basic {encoded}")
    assert masked.count("***") == 1
    left, right = masked.removeprefix("Authorization: Basic ").split("***")
    # what stays is the encoding of the bytes around the secret, plus a character or two
    assert len(left) <= len(encode(prefix)) + 1
    assert len(right) <= len(encode(b"-tail")) + 3


def test_no_secret_no_change_and_short_pieces_are_not_guessed() -> None:
    assert SecretMask()("anything iw_") == "anything iw_"
    assert not SecretMask([])
    assert SecretMask(["ab"])("cab abba") == "c*** ***ba"


def test_every_secret_of_a_mask_is_masked() -> None:
    mask = SecretMask([SECRET, ODD])
    assert mask(f"{SECRET}|{quote_plus(ODD)}") == "***|***"


@pytest.fixture
def live() -> Iterator[Callable[[str], Callable[[], None]]]:
    """Register secrets for one test; whatever it leaves registered is released after it."""
    releases: list[Callable[[], None]] = []

    def hold(secret: str) -> Callable[[], None]:
        release = register([secret])
        releases.append(release)
        return release

    yield hold
    for release in releases:
        release()


def test_redact_masks_registered_secrets_until_released(
    live: Callable[[str], Callable[[], None]],
) -> None:
    assert redact(f"x {SECRET}") == f"x {SECRET}"
    first, second = live(SECRET), live(SECRET)
    assert redact(f"x {SECRET}") == "x ***"
    first()
    first()  # releasing twice counts once
    assert redact(f"x {SECRET}") == "x ***", "the other registration still holds it"
    second()
    assert redact(f"x {SECRET}") == f"x {SECRET}"
    assert redact(f"x {ODD}", [ODD]) == "x ***", "an extra secret for one call"


def test_retained_keeps_secrets_masked_until_the_block_ends(
    live: Callable[[str], Callable[[], None]],
) -> None:
    with retained():
        live(SECRET)()
        assert redact(SECRET) == "***", "released inside the block, still masked"
    assert redact(SECRET) == SECRET


def test_log_records_are_masked_whatever_the_handler(
    live: Callable[[str], Callable[[], None]], caplog: pytest.LogCaptureFixture
) -> None:
    install_log_redaction()
    live(SECRET)
    logger = logging.getLogger("tests.redaction")
    with caplog.at_level(logging.DEBUG):
        logger.debug("header %s", f"X-API-Key: {SECRET}")
        try:
            raise ValueError(f"illegal status line: bytearray(b'HTTP/1.1 2OO {SECRET}')")
        except ValueError:
            logger.exception("failed")
        try:
            raise KeyError("nothing secret")
        except KeyError:
            logger.exception("plain")
        logger.info("%s and %s", "one")  # arguments that do not fit the format
    masked, with_secret, plain, unformattable = caplog.records
    assert masked.getMessage() == "header X-API-Key: ***"
    assert with_secret.exc_info is None and with_secret.exc_text
    assert "2OO ***" in with_secret.exc_text and "Traceback" in with_secret.exc_text
    assert plain.exc_info is not None, "a traceback without secrets is left to the handler"
    assert "could not be formatted" in unformattable.getMessage()
    assert SECRET not in caplog.text


def test_header_printing_loggers_stay_quiet_at_any_verbosity(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_log_redaction()
    with caplog.at_level(logging.DEBUG):
        for name in redaction.QUIET_LOGGERS:
            logging.getLogger(name).debug("Set-Cookie: session=%s", SECRET)
            assert not logging.getLogger(name).isEnabledFor(logging.INFO)
    assert caplog.records == []
