"""Claude (Anthropic's Messages API through the official SDK) as a resource: one structured call.

`ClaudeResource.ask` sends a cached static system prompt, the per-idea facts and a JSON schema
(`output_config` structured output) and returns the answer's text with its token counts, or the
error that stopped it. It never raises for the service's failures (no key, 4xx/5xx after the
SDK's retries, timeouts, refusals): the caller falls back to its rules. The key comes from
ANTHROPIC_API_KEY and is never logged.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
import httpx2

from kapman_resources.settings import (
    DEFAULT_CLAUDE_MODEL,
    DEFAULT_LLM_MAX_CALLS,
    DEFAULT_LLM_MAX_TOKENS,
)

OUTPUT_TOKENS_PER_CALL = 1_200
TIMEOUT_SECONDS = 30.0
SDK_RETRIES = 2  # the SDK retries 408/409/429/5xx with backoff, honouring Retry-After


@dataclass(frozen=True)
class Reply:
    text: str | None  # the answer's text (JSON by the schema), None on error
    error: str | None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    stop_reason: str | None = None


class ClaudeResource(dg.ConfigurableResource):
    """Claude for trade-idea rationales; without an API key every call is a clean "no key"."""

    api_key: str | None = None
    model: str = DEFAULT_CLAUDE_MODEL
    max_calls: int = DEFAULT_LLM_MAX_CALLS  # per run
    max_tokens: int = DEFAULT_LLM_MAX_TOKENS  # input + output, per run
    timeout_seconds: float = TIMEOUT_SECONDS
    base_url: str | None = None

    @property
    def available(self) -> bool:
        return bool(self.api_key)

    def transport(self) -> httpx2.BaseTransport | None:
        """The HTTP transport under the SDK (tests substitute one; None = the network)."""
        return None

    def client(self):
        import anthropic

        http = httpx2.Client(transport=self.transport(), timeout=self.timeout_seconds)
        return anthropic.Anthropic(api_key=self.api_key, base_url=self.base_url,
                                   max_retries=SDK_RETRIES, timeout=self.timeout_seconds,
                                   http_client=http)  # fmt: skip

    def ask(self, client, system: str, user: str, schema: dict) -> Reply:
        """One structured call; any failure comes back as Reply(error=...)."""
        import anthropic

        if not self.available:
            return Reply(None, "no ANTHROPIC_API_KEY")
        try:
            message = client.messages.create(
                model=self.model,
                max_tokens=OUTPUT_TOKENS_PER_CALL,
                system=[{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
                messages=[{"role": "user", "content": user}],
                output_config={"format": {"type": "json_schema", "schema": schema}},
            )
        except anthropic.APITimeoutError:
            return Reply(None, f"timeout after {self.timeout_seconds:g} s")
        except anthropic.APIStatusError as exc:
            return Reply(None, f"HTTP {exc.status_code} from the Claude API")
        except anthropic.APIError as exc:
            return Reply(None, f"Claude API error: {type(exc).__name__}")
        usage = message.usage
        text = "".join(b.text for b in message.content if getattr(b, "type", "") == "text")
        counts = dict(input_tokens=usage.input_tokens or 0, output_tokens=usage.output_tokens or 0,
                      cache_read_tokens=getattr(usage, "cache_read_input_tokens", 0) or 0,
                      stop_reason=message.stop_reason)  # fmt: skip
        if message.stop_reason == "refusal":
            return Reply(text or None, "refused", **counts)
        return Reply(text, None, **counts)
