"""Constrained decoding: a local model's replies kept inside a JSON Schema, token by token.

`JsonSchemaConstraint(schema)` is given to `LocalLLM(..., json_schema=schema)`. At every generation step the
logits of tokens that would leave the schema's language are set to -inf, so each finished reply is one JSON
object the schema accepts (a reply cut by `max_tokens` can still be incomplete). The parser is
lm-format-enforcer's `JsonSchemaParser` and `TokenEnforcer` (enums, required fields, types, nulls, nested
objects and arrays); what ragtune adds is the transformers glue for its batched, prefix-shared generation:
lm-format-enforcer's own transformers integration imports `transformers.tokenization_utils`, which
transformers 5 renamed, so the tokenizer table below is built here the way that integration builds it.

The tokenizer table (every regular token's text) is built once per constraint and tokenizer (about a
second per 100k tokens); each batch gets a fresh `TokenEnforcer` (its state cache grows with the prefixes
it sees). A row that has ended (an end-of-turn token among its new tokens) is left alone.
"""

from __future__ import annotations

from typing import Any

__all__ = ["JsonSchemaConstraint"]


class JsonSchemaConstraint:
    """Token masks for one JSON Schema; `processor(...)` gives a transformers logits processor for one batch."""

    def __init__(self, schema: dict[str, Any]):
        self.schema = schema  # checked by the caller (`ragtune.evaluation.json_output.read_schema`)
        self._tables: dict[int, Any] = {}

    def _table(self, tok, stops: list[int]):
        """lm-format-enforcer's tokenizer data for `tok`: (id, text, starts a word) per regular token."""
        from lmformatenforcer import TokenEnforcerTokenizerData

        key = id(tok)
        if key not in self._tables:
            zero = tok.encode("0", add_special_tokens=False)[-1]
            special = set(tok.all_special_ids)
            regular = []
            for i in range(len(tok)):
                if i in special:
                    continue
                # decoded after "0" (first character dropped) keeps a word-start token's leading space
                after = tok.decode([zero, i])[1:]
                regular.append((i, after, len(after) > len(tok.decode([i]))))
            decode = lambda ids: tok.decode(ids).rstrip("\ufffd")  # noqa: E731  (a partial multi-byte character)
            self._tables[key] = TokenEnforcerTokenizerData(regular, decode, list(stops), False, len(tok))
        return self._tables[key]

    def processor(self, tok, stops: list[int], prompt_width: int):
        """A logits processor for one `generate` call whose prompts are `prompt_width` tokens wide (padded)."""
        import torch
        from lmformatenforcer import JsonSchemaParser, TokenEnforcer

        enforcer = TokenEnforcer(self._table(tok, stops), JsonSchemaParser(self.schema))
        ended = set(stops)

        def mask(input_ids, scores):
            out = torch.full_like(scores, float("-inf"))
            for i, row in enumerate(input_ids.tolist()):
                if ended.intersection(row[prompt_width:]):
                    out[i] = scores[i]  # finished: generate() only pads it now
                    continue
                allowed = enforcer.get_allowed_tokens(row).allowed_tokens
                idx = torch.tensor([t for t in allowed if t < scores.shape[1]], dtype=torch.long)
                out[i, idx] = scores[i, idx]
            return out

        return mask
