"""Container ids and names: generation like docker's, and docker's validation rule (layer L0).

Ids are 64 random hex digits whose 12-digit short form is never all decimal digits (docker
retries those, so a short id can't be mistaken for a number). Generated names are
``adjective_surname`` from dockernb's own word lists (the same kind as docker's: moods and
scientists or engineers), with a digit appended on retries (``name_generator(retry)``).
"""

from __future__ import annotations

import re
import secrets

from dockernb.errors import InvalidContainerName

__all__ = ["ADJECTIVES", "SURNAMES", "generate_id", "random_name", "validate_name"]

ADJECTIVES = (
    "agile", "amazed", "amused", "ardent", "artful", "awake", "blissful", "bold", "brave", "breezy",
    "bright", "brisk", "busy", "calm", "candid", "careful", "charming", "cheerful", "clever", "cosmic",
    "cozy", "crafty", "curious", "daring", "dazzling", "deft", "devoted", "diligent", "dreamy", "eager",
    "earnest", "elated", "elegant", "epic", "fearless", "festive", "fervent", "fond", "frank", "friendly",
    "gallant", "gentle", "gifted", "glad", "gleeful", "graceful", "happy", "hardy", "hearty", "helpful",
    "honest", "hopeful", "humble", "jolly", "jovial", "joyful", "keen", "kind", "lively", "loyal",
    "lucid", "lucky", "merry", "mellow", "mindful", "modest", "nimble", "noble", "patient", "peaceful",
    "placid", "playful", "plucky", "polite", "proud", "quick", "quiet", "radiant", "ready", "relaxed",
    "resolute", "serene", "sharp", "shiny", "sincere", "smart", "snappy", "spirited", "steady", "sturdy",
    "sunny", "swift", "tender", "thrifty", "tidy", "upbeat", "valiant", "vibrant", "vivid", "witty",
    "zealous", "zesty",
)  # fmt: skip

SURNAMES = (
    "agnesi", "ampere", "archimedes", "avogadro", "babbage", "bardeen", "bernoulli", "bohr", "boole",
    "born", "bose", "brahe", "cannon", "cantor", "carnot", "cauchy", "cavendish", "chandrasekhar",
    "clausius", "copernicus", "coulomb", "crick", "curie", "dalton", "darwin", "dedekind", "descartes",
    "dijkstra", "dirac", "doppler", "euclid", "euler", "faraday", "fermat", "fermi", "feynman",
    "fibonacci", "fourier", "franklin", "galileo", "galois", "gauss", "germain", "gibbs", "godel",
    "goodall", "hamilton", "hawking", "heisenberg", "hertz", "hilbert", "hopper", "hubble", "huygens",
    "hypatia", "jacobi", "joule", "kelvin", "kepler", "knuth", "kovalevskaya", "lagrange", "lamarr",
    "laplace", "leavitt", "leibniz", "lovelace", "lorentz", "maxwell", "meitner", "mendel", "mendeleev",
    "minkowski", "mirzakhani", "morse", "napier", "newton", "nobel", "noether", "ohm", "pascal",
    "pasteur", "pauli", "planck", "poincare", "ramanujan", "riemann", "ritchie", "rutherford", "sagan",
    "schrodinger", "shannon", "somerville", "tesla", "thompson", "torvalds", "turing", "volta",
    "wiles", "wu", "yalow",
)  # fmt: skip

_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


def generate_id() -> str:
    """A fresh 64-hex container id whose short form is not all digits."""
    while True:
        value = secrets.token_hex(32)
        if not value[:12].isdigit():
            return value


def random_name(retry: int = 0) -> str:
    """``adjective_surname``; from the second try on, a random digit is appended (as docker does)."""
    name = f"{secrets.choice(ADJECTIVES)}_{secrets.choice(SURNAMES)}"
    if retry > 0:
        name += str(secrets.randbelow(10))
    return name


def validate_name(name: str) -> str:
    """The name as stored (without docker's leading ``/``); InvalidArgument with docker's words otherwise."""
    if not _NAME.match(name):
        raise InvalidContainerName(name)
    return name.removeprefix("/")
