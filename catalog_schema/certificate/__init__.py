"""Electronic certificates: issuer keys and signature verification."""
