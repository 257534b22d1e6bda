"""The PKI engine; knows nothing of NETCONF."""
