"""Claude picks among the valid candidates and writes the rationale; code has the last word.

The answer must be JSON by SCHEMA; code re-checks it: the chosen id must be one of the
candidates (an invented or altered contract is rejected), every text part present and at most
MAX_TEXT characters, the invalidation level a positive number on the losing side of the entry
close. A rejected answer, no key, an error, a timeout, a refusal or an exhausted budget: the
rule-based choice and rationale stand (`rationale_source = 'rules'`), and the call is audited.
"""

import json
import math
from dataclasses import dataclass, field

from kapman_assets.analytics.option_strategies import BULLISH, Candidate
from kapman_assets.analytics.rationale import rule_rationale
from kapman_resources.claude import ClaudeResource

TEXT_PARTS = ("thesis", "wyckoff_evidence", "dealer_context", "risks", "invalidation")
MAX_TEXT = 700
SCHEMA = {
    "type": "object",
    "properties": {
        "candidate_id": {"type": "string"},
        **{part: {"type": "string"} for part in TEXT_PARTS},
        "invalidation_level": {"type": "number"},
    },
    "required": ["candidate_id", *TEXT_PARTS, "invalidation_level"],
    "additionalProperties": False,
}
SYSTEM_PROMPT = (
    "You write the rationale of one option trade idea for a swing trader, in Kapman, a Wyckoff"
    " analytics platform. You receive the session's facts (Wyckoff phase, events and scores, the"
    " signal and its measured edge, the probability of an up move p_up, dealer gamma context,"
    " IV minus HV) and a list of candidate structures, each built from listed contracts of the"
    " session's option chain. Choose exactly one candidate by its `id`; never name a contract"
    " that is not in the list and never change strikes, expirations or prices. Use only the"
    " numbers given. Answer in the JSON schema: `thesis` (why this structure, now), "
    "`wyckoff_evidence`, `dealer_context`, `risks` (include the maximum loss), `invalidation`"
    " (the close that proves the idea wrong) and `invalidation_level` (that price: below the"
    f" entry close for a bullish idea, above it for a bearish one). At most {MAX_TEXT}"
    " characters per text field; plain sentences; no advice beyond the idea."
)


class Rejected(ValueError):
    """Claude's answer broke a rule; the message says which."""


@dataclass
class Budget:
    """Calls and tokens left for this run."""

    calls: int
    tokens: int
    used_calls: int = 0
    used_tokens: int = 0
    outcomes: dict = field(default_factory=dict)

    def allows(self) -> bool:
        return self.used_calls < self.calls and self.used_tokens < self.tokens

    def spend(self, tokens: int, outcome: str) -> None:
        self.used_calls += 1
        self.used_tokens += tokens
        kind = outcome.split(":", 1)[0]
        self.outcomes[kind] = self.outcomes.get(kind, 0) + 1


def prompt(facts: dict, found: list[Candidate]) -> str:
    """The per-idea part of the prompt: the facts and the candidates, as JSON."""
    slim = [{k: v for k, v in c.as_record().items() if k not in ("delta_distance",)} for c in found]
    return json.dumps({"facts": facts, "candidates": slim}, default=str, sort_keys=True)


def validated(text: str | None, found: list[Candidate], entry_close: float) -> tuple:
    """(candidate, parts) from Claude's answer, or Rejected with the broken rule."""
    try:
        answer = json.loads(text or "")
    except json.JSONDecodeError as exc:
        raise Rejected(f"malformed JSON ({exc.msg})") from None
    if not isinstance(answer, dict):
        raise Rejected("the answer is not a JSON object")
    by_id = {c.id: c for c in found}
    choice = by_id.get(answer.get("candidate_id"))
    if choice is None:
        raise Rejected(f"names {answer.get('candidate_id')!r}, which is not a candidate")
    for part in TEXT_PARTS:
        value = answer.get(part)
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
            raise Rejected(f"{part} missing, empty or longer than {MAX_TEXT} characters")
    level = answer.get("invalidation_level")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not math.isfinite(level):
        raise Rejected("invalidation_level is not a number")
    wrong_side = level >= entry_close if choice.direction == BULLISH else level <= entry_close
    if level <= 0 or wrong_side:
        raise Rejected(f"invalidation_level {level} is on the wrong side of {entry_close}")
    parts = {part: answer[part].strip() for part in TEXT_PARTS}
    parts["invalidation_level"] = float(level)
    return choice, parts


def advise(
    claude: ClaudeResource, client, budget: Budget, facts: dict, found: list[Candidate],
    rule_pick: Candidate,
) -> tuple[Candidate, dict, str, dict | None]:  # fmt: skip
    """(choice, rationale parts, source, audit row or None when no call was made)."""
    fallback = (rule_pick, rule_rationale(rule_pick, facts), "rules")
    if not claude.available or client is None:
        return (*fallback, None)
    user = prompt(facts, found)
    if not budget.allows():
        return (*fallback, {"prompt": user, "response": None, "outcome": "skipped: budget spent",
                            "input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0})  # fmt: skip
    reply = claude.ask(client, SYSTEM_PROMPT, user, SCHEMA)
    audit = {"prompt": user, "response": reply.text, "input_tokens": reply.input_tokens,
             "output_tokens": reply.output_tokens, "cache_read_tokens": reply.cache_read_tokens}  # fmt: skip
    if reply.error is not None:
        audit["outcome"] = f"error: {reply.error}"
    else:
        try:
            choice, parts = validated(reply.text, found, float(facts["close"]))
        except Rejected as exc:
            audit["outcome"] = f"rejected: {exc}"
        else:
            audit["outcome"] = "accepted"
            budget.spend(reply.input_tokens + reply.output_tokens, audit["outcome"])
            return choice, parts, "llm", audit
    budget.spend(reply.input_tokens + reply.output_tokens, audit["outcome"])
    return (*fallback, audit)
