"""Alerts about the fleet: an agent offline too long, a missed airing, a village no
longer reached, a journal backlog that keeps growing."""
