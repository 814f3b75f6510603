"""Users, roles per unit, passwords, login tokens, and the authorisation rules."""
