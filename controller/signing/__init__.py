"""The controller's keys: Ed25519 signing keyring (epoch, trust bundle, rotation), its
monotonic counters, and the CURVE key pair of the data plane."""
