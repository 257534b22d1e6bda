"""The bridge between YANG RPCs and the PKI engine."""
