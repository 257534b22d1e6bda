"""A generic YANG datastore: schema, edit, validation, commit, locks, persistence."""
