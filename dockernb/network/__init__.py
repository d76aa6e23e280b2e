"""Network drivers (none, host, bridge, slirp4netns/pasta) and port publishing (L3)."""
