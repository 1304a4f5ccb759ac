"""The one secret detector: what it masks, what it leaves, and that masking twice is stable."""

from clawdbot_nb.state.redaction import contains_secret, full_secrets, mask_secret, redact, redact_line

KEY = "sk-ant-api03-" + "A1b2" * 20 + "WXYZ"
TOKEN = "sk-ant-oat01-" + "Zz9_" * 20 + "ABCD"


def test_redact_masks_keys_tokens_and_bearer_values_anywhere_in_text():
    text = f"key={KEY}; token {TOKEN} header Authorization: Bearer abcdefghijklmnop1234"
    out = redact(text)
    assert KEY not in out and TOKEN not in out and "abcdefghijklmnop1234" not in out
    assert "sk-ant-api03-…WXYZ" in out and "sk-ant-oat01-…ABCD" in out and "Bearer …1234" in out
    assert redact(out) == out


def test_contains_secret_and_full_secrets():
    assert contains_secret(f"--profile {KEY}")
    assert not contains_secret("anthropic:default") and not contains_secret("sk-ant-api03-…WXYZ")
    assert not contains_secret(None)
    assert full_secrets(f"x = '{KEY}'\ny = 'sk-ant-api03-…'") == [KEY]


def test_redact_line_joins_lines_and_masks_a_token_split_by_whitespace_only_when_whole():
    assert redact_line(f"first\n  second {KEY}") == f"first second {mask_secret(KEY)}"
