"""netconf-pki-agent: a NETCONF/YANG device agent for PKI."""

__version__ = "0.1.0"
