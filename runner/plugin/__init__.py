"""Loading plugins (built-in and third-party) and the registry built from them."""
