"""The data plane: channels with credit-based flow control, local and over TCP."""
