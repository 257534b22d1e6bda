"""Enrollment protocols (SCEP, CMP, offline): how a trustpoint obtains its certificates.

Each protocol keeps its message building and parsing free of I/O and reaches the CA only
through an injected :class:`~agent.pki.enroll.transport.HttpTransport`, so tests can drive
it against a real CA on 127.0.0.1 or feed it captured messages.
"""
