"""Chat-LLM fine-tuning: LoRA / full SFT with TRL, evaluation, merge, hosted submit and distillation.

Heavy libraries are imported inside functions; importing this package is instant.
"""
