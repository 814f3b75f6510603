"""The controller's side of the fleet: what agents report, stored exactly once."""
