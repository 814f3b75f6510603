"""Indicator rules (DESIGN §4) on hand-made facts, and the definition file format."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.uptime.coverage import (
    Basis,
    ClusterFacts,
    RegionIndicators,
    commune_indicators,
    judge_cluster,
)
from controller.uptime.definition import DefinitionError, load_definition

D = load_definition()


def ip(cluster: str, village: str, availability: float, targeted: int = 0, aired: int = 0,
       station: str = "st") -> ClusterFacts:
    return ClusterFacts(cluster, village, station, "ip", availability, targeted, aired)


def test_bundled_definition() -> None:
    assert D.version == "loaxa-2024.1"
    assert (D.village_threshold, D.airing_threshold, D.min_evidence) == (0.9, 0.9, 1)
    assert D.window.key == "0430-2130@Asia/Ho_Chi_Minh"
    assert D.targets["indicator1"][2025] == 1.0


@pytest.mark.parametrize(("facts", "reaches", "basis"), [
    (ip("a", "v", 0.95, 10, 9), True, Basis.IP),
    (ip("a", "v", 0.95, 10, 8), False, Basis.NONE),  # 80 % aired
    (ip("a", "v", 0.89, 10, 10), False, Basis.NONE),  # availability just below
    (ip("a", "v", 0.90, 0, 0), True, Basis.IP_AVAILABILITY_ONLY),  # nothing targeted
    (ClusterFacts("w", "v", "st", "wired"), False, Basis.NONE),  # legacy, not attested
    (ClusterFacts("w", "v", "st", "fm", attested_by="an", attested_at="2026-11-01"), True,
     Basis.ATTESTED),
])
def test_cluster_rules(facts: ClusterFacts, reaches: bool, basis: Basis) -> None:
    verdict = judge_cluster(facts, D)
    assert (verdict.reaches, verdict.basis) == (reaches, basis)


def test_commune_dat_only_when_every_village_is_reached() -> None:
    clusters = [ip("c1", "thon-1", 0.99, 4, 4), ip("c2", "thon-1", 0.10),
                ip("c3", "thon-2", 0.92),
                ClusterFacts("c4", "thon-3", "fm-st", "fm", attested_by="an", attested_at="x")]
    result = commune_indicators("xa", ["thon-1", "thon-2", "thon-3"],
                                {"st": "ip", "fm-st": "fm"}, clusters, D)
    assert result.dat and result.village_coverage == 1.0
    assert [v.basis for v in result.villages] == [Basis.IP, Basis.IP_AVAILABILITY_ONLY,
                                                  Basis.ATTESTED]
    missing = commune_indicators("xa", ["thon-1", "thon-4"], {"st": "ip"}, clusters[:1], D)
    with pytest.raises(ValueError, match="unknown station"):
        commune_indicators("xa", ["thon-1"], {}, clusters[:1], D)
    assert not missing.dat and missing.village_coverage == 0.5  # thon-4 has no cluster


def test_station_conversion_and_hybrid_share() -> None:
    clusters = [ip("a", "v", 1.0, station="h"), ClusterFacts("b", "v", "h", "wired"),
                ip("c", "v", 1.0, station="h2"), ClusterFacts("d", "v", "h2", "wired"),
                ClusterFacts("e", "v", "h2", "wired")]
    result = commune_indicators("xa", ["v"], {"h": "hybrid", "h2": "hybrid", "w": "wired"},
                                clusters, D)
    by_name = {s.station: s for s in result.stations}
    assert by_name["h"].converted and by_name["h"].ip_share == 0.5
    assert not by_name["h2"].converted
    assert not by_name["w"].converted and by_name["w"].ip_share is None
    assert result.converted_stations == 1


def test_region_shares() -> None:
    good = commune_indicators("a", ["v"], {"s": "ip"}, [ip("c", "v", 1.0, station="s")], D)
    bad = commune_indicators("b", ["v"], {"s": "wired"}, [], D)
    region = RegionIndicators("tinh", D.version, (good, bad))
    assert (region.communes_dat, region.share_dat) == (1, 0.5)
    assert (region.converted, region.stations, region.share_converted) == (1, 2, 0.5)


def test_bad_definitions_are_named(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text('version = "x"\n[service_window]\nstart = "25:00"\nend = "21:00"\n'
                    '[availability]\nmin_evidence = 1\nvillage_threshold = 0.9\n'
                    'airing_threshold = 0.9\n[conversion]\nhybrid_ip_share = 0.5\n'
                    '[attestation]\nvalid_days = 92\n')
    with pytest.raises(DefinitionError, match=r"service_window\.start"):
        load_definition(path)
    with pytest.raises(DefinitionError, match="no indicator definition"):
        load_definition("loaxa-1999")
