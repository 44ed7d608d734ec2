"""The machine a figure was measured on: its hardware fingerprint and name, thread control across
backends, provenance (commit, versions, threads, machine, seed).  Above impls/ (it sets backends' threads)."""
