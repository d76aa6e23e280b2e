"""The dockernb version string."""

__version__ = "0.1.0"
#: the Docker Engine API version dockernb speaks, and the docker release whose behaviour it matches
API_VERSION = "1.41"
MIN_API_VERSION = "1.12"
DOCKER_COMPAT = "20.10.24"
