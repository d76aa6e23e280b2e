from __future__ import annotations

from dockernb.present.units import human_duration, human_size, human_size_binary, short_id


def test_sizes_like_go_units() -> None:
    assert human_size(1_990_000) == "1.99MB"
    assert human_size(164_000_000) == "164MB"
    assert human_size(0) == "0B"
    assert human_size(999) == "999B"
    assert human_size_binary(25_275_883_520) == "23.54GiB"


def test_durations_like_go_units() -> None:
    assert human_duration(0.5) == "Less than a second"
    assert human_duration(1) == "1 second"
    assert human_duration(5) == "5 seconds"
    assert human_duration(61) == "About a minute"
    assert human_duration(180) == "3 minutes"
    assert human_duration(3600) == "About an hour"
    assert human_duration(56 * 365.25 * 86400) == "56 years"
    assert short_id("sha256:" + "ab" * 32) == "ab" * 6
