from __future__ import annotations

from clawdbot_nb.state.config import ProfileConfig
from clawdbot_nb.state.cooldown import UsageStats
from clawdbot_nb.state.credentials import ApiKeyCredential, OAuthCredential, TokenCredential
from clawdbot_nb.state.order import resolve_profile_order

NOW = 1_769_650_000_000
KEY = ApiKeyCredential(provider="anthropic", key="sk-ant-api03-aaaaaaaaaaaaaaaaaaaa")
KEY2 = ApiKeyCredential(provider="anthropic", key="sk-ant-api03-bbbbbbbbbbbbbbbbbbbb")
TOKEN = TokenCredential(provider="anthropic", token="sk-ant-oat01-cccccccccccccccccccc")
OAUTH = OAuthCredential(
    provider="anthropic", access="sk-ant-oat01-dddd", refresh="r" * 20, expires_ms=NOW - 1
)
OTHER = ApiKeyCredential(provider="openai", key="sk-eeeeeeeeeeeeeeeeeeee")


def order(
    credentials, *, stats=None, store_order=None, config_order=None, config_profiles=None, preferred=None
):
    return resolve_profile_order(
        "anthropic",
        credentials=credentials,
        stats=stats or {},
        store_order=store_order,
        config_order=config_order,
        config_profiles=config_profiles or {},
        now_ms=NOW,
        preferred=preferred,
    )


def test_round_robin_by_type_then_least_recently_used() -> None:
    result = order(
        {"a:key": KEY, "a:key2": KEY2, "a:token": TOKEN, "a:oauth": OAUTH, "o:x": OTHER},
        stats={"a:key": UsageStats(last_used=NOW - 10), "a:key2": UsageStats(last_used=NOW - 100)},
    )
    assert result.ordered == ["a:oauth", "a:token", "a:key2", "a:key"]
    assert not result.explicit


def test_expired_oauth_is_still_usable_because_it_refreshes() -> None:
    assert "a:oauth" in order({"a:oauth": OAUTH}).ordered


def test_store_order_wins_over_config_order() -> None:
    creds = {"a:key": KEY, "a:token": TOKEN}
    result = order(creds, store_order=["a:key", "a:token"], config_order=["a:token", "a:key"])
    assert result.ordered == ["a:key", "a:token"] and result.explicit
    assert order(creds, config_order=["a:key", "a:token"]).ordered == ["a:key", "a:token"]


def test_cooling_profiles_go_last_soonest_back_first() -> None:
    creds = {"a:1": KEY, "a:2": KEY2, "a:3": TOKEN}
    stats = {"a:1": UsageStats(cooldown_until=NOW + 5000), "a:2": UsageStats(disabled_until=NOW + 1000)}
    result = order(creds, stats=stats, store_order=["a:1", "a:2", "a:3"])
    assert result.ordered == ["a:3", "a:2", "a:1"]
    assert result.cooling == {"a:1", "a:2"}
    assert result.available == ["a:3"]


def test_a_past_cooldown_is_available() -> None:
    result = order({"a:1": KEY}, stats={"a:1": UsageStats(cooldown_until=NOW - 1, error_count=3)})
    assert result.available == ["a:1"]


def test_unusable_profiles_are_skipped_with_a_reason() -> None:
    expired = TokenCredential(provider="anthropic", token="sk-ant-oat01-xxxx", expires_ms=NOW - 1)
    empty = ApiKeyCredential(provider="anthropic", key="")
    result = order(
        {"a:expired": expired, "a:empty": empty, "a:ok": KEY},
        store_order=["a:expired", "a:missing", "a:empty", "a:ok"],
    )
    assert result.ordered == ["a:ok"]
    assert result.skipped == {
        "a:expired": "token expired",
        "a:missing": "no credentials stored",
        "a:empty": "the stored secret is empty",
    }


def test_config_mode_must_match_but_oauth_accepts_token() -> None:
    creds = {"a:cli": TOKEN, "a:key": KEY}
    profiles = {
        "a:cli": ProfileConfig("anthropic", "oauth"),
        "a:key": ProfileConfig("anthropic", "token"),
    }
    result = order(creds, config_profiles=profiles)
    assert result.ordered == ["a:cli"]
    assert "does not accept" in result.skipped["a:key"]


def test_config_profiles_are_the_base_list_without_an_explicit_order() -> None:
    creds = {"a:key": KEY, "a:token": TOKEN}
    result = order(creds, config_profiles={"a:key": ProfileConfig("anthropic", "api_key")})
    assert result.ordered == ["a:key"]


def test_preferred_profile_comes_first_and_duplicates_collapse() -> None:
    result = order(
        {"a:key": KEY, "a:token": TOKEN}, store_order=["a:token", "a:key", "a:token"], preferred="a:key"
    )
    assert result.ordered == ["a:key", "a:token"]
