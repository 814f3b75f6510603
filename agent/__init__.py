"""The village agent: a lean, unattended service at a loudspeaker cluster."""
