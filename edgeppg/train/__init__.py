"""Training: one fit() loop, objectives (supervised, distillation), checkpoints."""
