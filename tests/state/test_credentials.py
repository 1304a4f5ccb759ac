from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clawdbot_nb.errors import CredentialError
from clawdbot_nb.state.credentials import (
    KNOWN_PREFIXES,
    ApiKeyCredential,
    OAuthCredential,
    TokenCredential,
    mask_secret,
    normalize_pasted_secret,
    parse_credential,
    validate_api_key,
    validate_setup_token,
)
from tests.state.fakes import API_KEY, OAUTH_ACCESS, OAUTH_REFRESH, SETUP_TOKEN


@pytest.mark.parametrize(
    "pasted",
    [
        API_KEY,
        f"  {API_KEY}  ",
        f'export ANTHROPIC_API_KEY="{API_KEY}"',
        f"export ANTHROPIC_API_KEY='{API_KEY}';",
        f"ANTHROPIC_API_KEY={API_KEY};",
        f'"{API_KEY}"',
        f"{API_KEY[:40]}\n{API_KEY[40:]}",
        f"`{API_KEY}`",
    ],
)
def test_pasted_input_is_normalised(pasted: str) -> None:
    assert normalize_pasted_secret(pasted) == API_KEY


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Required"),
        ("   ", "Required"),
        ("sk-ant-oat02-" + "x" * 90, "Expected token starting with sk-ant-oat01-"),
        ("hello", "Expected token starting with sk-ant-oat01-"),
        ("sk-ant-oat01-short", "Token looks too short; paste the full setup-token"),
        ("sk-ant-oat01-" + "x" * 66, "Token looks too short; paste the full setup-token"),
    ],
)
def test_setup_token_rules_have_the_exact_messages(raw: str, message: str) -> None:
    with pytest.raises(CredentialError) as info:
        validate_setup_token(raw)
    assert info.value.message == message
    assert info.value.fix


def test_setup_token_of_exactly_80_characters_passes() -> None:
    token = "sk-ant-oat01-" + "x" * 67
    assert len(token) == 80
    assert validate_setup_token(token) == token


def test_api_key_pasted_as_token_is_explained() -> None:
    with pytest.raises(CredentialError) as info:
        validate_setup_token(API_KEY)
    assert "API key" in info.value.message and "not a setup-token" in info.value.message
    assert "apiKey" in info.value.fix
    assert API_KEY not in str(info.value)


def test_setup_token_pasted_as_api_key_is_explained() -> None:
    with pytest.raises(CredentialError) as info:
        validate_api_key(f"export ANTHROPIC_API_KEY={SETUP_TOKEN}")
    assert "setup-token" in info.value.message and "not an API key" in info.value.message
    assert "paste-token" in info.value.fix
    assert SETUP_TOKEN not in str(info.value)


def test_masks() -> None:
    assert mask_secret(API_KEY) == "sk-ant-api03-…WXYZ"
    assert mask_secret(SETUP_TOKEN) == "sk-ant-oat01-…ABCD"
    assert mask_secret("plain-secret-value-1234") == "…1234"
    assert mask_secret("short") == "…"
    assert mask_secret("sk-ant-api03-abc") == "sk-ant-api03-…"
    assert mask_secret(None) == "(none)"


def _revealed(secret: str, mask: str) -> int:
    """How many characters of `secret` beyond a known prefix the mask shows."""
    prefix = next((p for p in KNOWN_PREFIXES if secret.startswith(p) and mask.startswith(p)), "")
    tail = mask[len(prefix) :].replace("…", "")
    return len(tail)


@given(
    st.one_of(
        st.text(min_size=1, max_size=200),
        st.builds(lambda p, rest: p + rest, st.sampled_from(KNOWN_PREFIXES), st.text(max_size=200)),
    )
)
def test_a_mask_never_reveals_more_than_the_prefix_and_4_characters(secret: str) -> None:
    mask = mask_secret(secret)
    assert _revealed(secret, mask) <= 4
    if len(secret) >= 12:
        # What is shown is the secret's own end, never anything from its middle.
        tail = mask.rsplit("…", 1)[-1]
        assert secret.endswith(tail)
    if len(secret) < 12 and not any(secret.startswith(p) for p in KNOWN_PREFIXES):
        assert _revealed(secret, mask) == 0  # a short secret shows nothing of itself


def test_credentials_repr_and_str_are_masked() -> None:
    objects = [
        ApiKeyCredential(provider="anthropic", key=API_KEY),
        TokenCredential(provider="anthropic", token=SETUP_TOKEN),
        OAuthCredential(provider="anthropic", access=OAUTH_ACCESS, refresh=OAUTH_REFRESH, expires_ms=1),
    ]
    for credential in objects:
        for text in (repr(credential), str(credential), f"{credential}", repr([credential])):
            for secret in (API_KEY, SETUP_TOKEN, OAUTH_ACCESS, OAUTH_REFRESH):
                assert secret not in text
                assert secret[13:-4] not in text


def test_parse_keeps_unknown_fields_and_reports_problems() -> None:
    parsed = parse_credential(
        {"type": "oauth", "provider": "Anthropic", "access": OAUTH_ACCESS, "refresh": OAUTH_REFRESH,
         "expires": 1769700000000, "email": "a@b.c", "accountId": "acct_1", "newField": {"x": 1}}
    )  # fmt: skip
    assert isinstance(parsed.credential, OAuthCredential)
    assert parsed.credential.provider == "anthropic"
    assert parsed.problems == ()
    assert parsed.credential.to_json()["newField"] == {"x": 1}
    assert parsed.credential.to_json()["accountId"] == "acct_1"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"type": "password", "provider": "anthropic"}, "unknown credential type"),
        ({"type": "api_key", "provider": ""}, "provider is missing"),
        ("not an object", "must be a JSON object"),
    ],
)
def test_entries_the_gateway_drops(raw: object, problem: str) -> None:
    parsed = parse_credential(raw)
    assert parsed.credential is None
    assert problem in parsed.problems[0]


def test_wrong_field_types_are_problems_not_crashes() -> None:
    parsed = parse_credential({"type": "token", "provider": "anthropic", "token": 42, "expires": "soon"})
    assert parsed.credential is not None
    assert "token must be a string" in parsed.problems
    assert any("expires must be a number" in p for p in parsed.problems)


def test_oauth_written_with_access_token_field_is_flagged() -> None:
    parsed = parse_credential({"type": "oauth", "provider": "anthropic", "accessToken": OAUTH_ACCESS})
    assert any("accessToken" in p for p in parsed.problems)
