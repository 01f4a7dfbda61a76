"""Everything that talks to the outside: database, event delivery, launchers."""
