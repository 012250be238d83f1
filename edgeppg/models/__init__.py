"""Models: ResNet1d teacher, spec-built student, shared heads, and the name registry."""
