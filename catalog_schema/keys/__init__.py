"""Keys of the platform: data encryption keys, the blind-index and fingerprint keys, the signing key."""
