"""Chat data for LLM fine-tuning: read four formats, write OpenAI chat JSONL, validate before training.

`formats` reads and writes, `checks` validates (structure, duplicates, token checks given a tokenizer),
`dedup` finds exact and near duplicates and train/val overlap. The assistant-token mask used in
training lives with the trainer, in `ragtune.sft.tokenize`.
"""

from ragtune.data.chat.checks import ChatReport, TokenCheck, check_row, estimate_epochs, load_chat, read_chat, summarize, validate_chat
from ragtune.data.chat.dedup import duplicate_problems, near_duplicate_pairs, overlap_problems
from ragtune.data.chat.formats import ChatExample, detect_format, plain_text, read_rows, to_messages, write_chat

__all__ = ["ChatExample", "ChatReport", "TokenCheck", "plain_text", "read_rows", "detect_format", "to_messages", "write_chat",
           "check_row", "read_chat", "load_chat", "estimate_epochs", "summarize", "validate_chat", "duplicate_problems",
           "near_duplicate_pairs", "overlap_problems"]
