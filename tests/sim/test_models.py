"""GET /v1/models and /v1/models/{id} through the SDK, from the simulator's own model facts."""

from __future__ import annotations

import anthropic
import pytest

from clawdbot_nb.sim import model_facts
from tests.sim.sim_support import Api


def test_models_list_covers_every_model_with_lifecycles(api: Api) -> None:
    models = list(api.client().models.list(limit=5))  # several pages
    ids = [model.id for model in models]
    assert sorted(ids) == sorted(facts.id for facts in model_facts.MODELS)
    by_id = {model.id: model for model in models}
    assert by_id["claude-sonnet-5-5"].lifecycle == "active"
    assert by_id["claude-sonnet-4-5"].lifecycle == "deprecated"
    assert by_id["claude-sonnet-4-5"].retires_at is not None
    assert by_id["claude-opus-4-1"].lifecycle == "retired"
    served = [i for i in ids if by_id[i].lifecycle != "retired"]
    assert "claude-opus-4-1" not in served and "claude-haiku-5-5" in served
    assert ids.index("claude-haiku-5-5") < ids.index("claude-haiku-4-5")  # newest first


def test_models_report_context_window_and_capabilities(api: Api) -> None:
    client = api.client()
    haiku_45 = client.models.retrieve("claude-haiku-4-5")
    assert (haiku_45.max_input_tokens, haiku_45.max_tokens) == (200_000, 64_000)
    assert haiku_45.line == "haiku"
    haiku_55 = client.models.retrieve("claude-haiku-5-5")
    assert (haiku_55.max_input_tokens, haiku_55.max_tokens) == (1_000_000, 128_000)
    # The SDK parses the whole object into its typed ModelCapabilities.
    capabilities = client.models.retrieve("claude-opus-4-7").capabilities
    assert isinstance(capabilities, anthropic.types.ModelCapabilities)
    assert capabilities.thinking.types.adaptive.supported
    assert not capabilities.thinking.types.enabled.supported  # a 400 from Opus 4.7 on
    assert capabilities.effort.supported and capabilities.effort.xhigh.supported
    assert client.models.retrieve("claude-sonnet-4-6").capabilities.thinking.types.enabled.supported
    assert not haiku_45.capabilities.effort.supported
    assert client.models.retrieve("claude-sonnet-5-5").capabilities.thinking.types.between_tools.supported
    for model in client.models.list(limit=100):
        assert model.capabilities is not None and model.max_input_tokens and model.max_tokens


@pytest.mark.parametrize(
    ("model", "cap"),
    [("claude-sonnet-4-6", 128_000), ("claude-haiku-5-5", 128_000), ("claude-haiku-4-5", 64_000)],
)
def test_output_cap_per_model_as_documented(inproc: Api, model: str, cap: int) -> None:
    client = inproc.client()
    messages = [{"role": "user", "content": "Reply with OK."}]
    with client.messages.stream(model=model, max_tokens=cap, messages=messages) as stream:
        assert stream.get_final_text() == "OK"
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=model, max_tokens=cap + 1, messages=messages, stream=True)
    assert caught.value.body["error"]["message"].startswith(f"max_tokens: {cap + 1} > {cap},")


def test_models_retrieve(inproc: Api) -> None:
    client = inproc.client()
    model = client.models.retrieve("claude-haiku-4-5")
    assert (model.id, model.display_name, model.type) == ("claude-haiku-4-5", "Claude Haiku 4.5", "model")
    assert client.models.retrieve("claude-haiku-4-5-20251001").display_name == "Claude Haiku 4.5"
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.models.retrieve("claude-unknown-1")
    assert caught.value.body["error"]["message"] == "model: claude-unknown-1"
