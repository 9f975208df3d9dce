"""Claude through the real Anthropic SDK over an httpx2 transport (no network)."""

import json

import httpx2 as httpx

from kapman_resources.claude import ClaudeResource


def claude_with(handler, **config) -> ClaudeResource:
    class Local(ClaudeResource):
        def transport(self):
            return httpx.MockTransport(handler)

    return Local(api_key="test-key", base_url="http://claude.test", **config)


def message(text: str, stop_reason: str = "end_turn") -> httpx.Response:
    return httpx.Response(200, json={
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": text}], "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 900, "output_tokens": 150, "cache_read_input_tokens": 700,
                  "cache_creation_input_tokens": 0},
    })  # fmt: skip


def answer(candidate_id, level=95.0, **override):
    body = {"candidate_id": candidate_id, "thesis": "A spring held support; calls.",
            "wyckoff_evidence": "Phase C spring.", "dealer_context": "Long gamma.",
            "risks": "Max loss $205.", "invalidation": "A close below 95.", "invalidation_level":
            level, **override}  # fmt: skip
    return json.dumps(body)
