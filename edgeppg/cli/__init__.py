"""Thin CLI: each command module turns options into a frozen config and makes one library call."""
