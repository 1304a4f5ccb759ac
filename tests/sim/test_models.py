"""GET /v1/models and /v1/models/{id} through the SDK, from the shared catalog."""

from __future__ import annotations

import anthropic
import pytest

from clawdbot_nb import catalog
from tests.sim.sim_support import Api


def test_models_list_covers_the_catalog_with_lifecycles(api: Api) -> None:
    models = list(api.client().models.list(limit=5))  # several pages
    ids = [model.id for model in models]
    assert sorted(ids) == sorted(info.id for info in catalog.MODELS)
    by_id = {model.id: model for model in models}
    assert by_id["claude-sonnet-5-5"].lifecycle == "active"
    assert by_id["claude-sonnet-4-5"].lifecycle == "deprecated"
    assert by_id["claude-sonnet-4-5"].retires_at is not None
    assert by_id["claude-opus-4-1"].lifecycle == "retired"
    assert by_id["claude-haiku-5-5"].max_tokens == 64_000
    served = [i for i in ids if by_id[i].lifecycle != "retired"]
    assert sorted(served) == sorted(catalog.served_model_ids())
    assert ids.index("claude-haiku-5-5") < ids.index("claude-haiku-4-5")  # newest first


def test_models_retrieve(inproc: Api) -> None:
    client = inproc.client()
    model = client.models.retrieve("claude-haiku-4-5")
    assert (model.id, model.display_name, model.type) == ("claude-haiku-4-5", "Claude Haiku 4.5", "model")
    assert client.models.retrieve("claude-haiku-4-5-20251001").display_name == "Claude Haiku 4.5"
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.models.retrieve("claude-unknown-1")
    assert caught.value.body["error"]["message"] == "model: claude-unknown-1"
