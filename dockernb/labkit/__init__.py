"""The offline image kit: honest images from Debian packages, published to local registries."""
