"""NETCONF over SSH: transport, RFC 6242 framing, sessions, dispatch."""
