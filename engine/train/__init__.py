"""Training: GRPO with LoRA on variant trees (LADDER), test-time RL (TTRL), and the TRL path."""
