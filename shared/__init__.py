"""Code both services use: settings, the message contract, proposals and the round rules."""
