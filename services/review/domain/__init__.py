"""The proposal lifecycle as pure functions: no I/O, no clock (time arrives on the command)."""
