"""Uptime and coverage: availability with evidence, rollups, indicators 1 and 2."""
