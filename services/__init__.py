"""The two services of the KIPP proposal ledger, and the `kipp` command line."""
