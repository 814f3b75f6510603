"""Enrolment of agents: one-time codes, claims over ZeroMQ, revocation."""
