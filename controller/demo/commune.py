"""The sample commune of ``loaxa demo``: six villages, an IP station with wired
clusters left over from before the conversion (a hybrid), an old FM station, and the
two bulletins its operator records (Vietnamese data, like the names)."""

from __future__ import annotations

from dataclasses import dataclass

COMMUNE = "xa-tan-lap"
COMMUNE_NAME = "Xã Tân Lập"

VILLAGES = [
    ("thon-dong", "Thôn Đông"),
    ("thon-tay", "Thôn Tây"),
    ("thon-trung", "Thôn Trung"),
    ("ban-na-hin", "Bản Nà Hin"),
    ("ban-pa-co", "Bản Pa Cò"),
    ("to-dan-pho-1", "Tổ dân phố 1"),
]

STATIONS = [
    ("dai-xa", "Đài truyền thanh xã Tân Lập", "hybrid"),
    ("dai-fm-cu", "Đài FM cũ", "fm"),
]


@dataclass(frozen=True)
class ClusterPlan:
    key: str
    name: str
    village: str
    station: str
    kind: str  # ip clusters get an agent; wired/fm ones are legacy


CLUSTERS = [
    ClusterPlan("cum-dong-1", "Cụm loa Đông 1", "thon-dong", "dai-xa", "ip"),
    ClusterPlan("cum-dong-2", "Cụm loa Đông 2", "thon-dong", "dai-xa", "ip"),
    ClusterPlan("cum-tay-1", "Cụm loa Tây 1", "thon-tay", "dai-xa", "ip"),
    ClusterPlan("cum-tay-2", "Cụm loa Tây 2", "thon-tay", "dai-xa", "ip"),
    ClusterPlan("cum-trung-1", "Cụm loa Trung 1", "thon-trung", "dai-xa", "ip"),
    ClusterPlan("cum-na-hin-1", "Cụm loa Nà Hin", "ban-na-hin", "dai-xa", "ip"),
    ClusterPlan("cum-pa-co-1", "Cụm loa Pa Cò", "ban-pa-co", "dai-xa", "ip"),
    ClusterPlan("cum-tdp1-1", "Cụm loa TDP 1", "to-dan-pho-1", "dai-xa", "ip"),
    ClusterPlan("cum-trung-day", "Cụm loa dây Trung", "thon-trung", "dai-xa", "wired"),
    ClusterPlan("cum-tdp1-day", "Cụm loa dây TDP 1", "to-dan-pho-1", "dai-xa", "wired"),
    ClusterPlan("cum-pa-co-fm", "Cụm FM Pa Cò", "ban-pa-co", "dai-fm-cu", "fm"),
    ClusterPlan("cum-na-hin-fm", "Cụm FM Nà Hin", "ban-na-hin", "dai-fm-cu", "fm"),
]


@dataclass(frozen=True)
class Bulletin:
    key: str  # the programme's key
    title: str
    text: str  # read out by espeak-ng


# A storm bulletin for three villages, aired twice (storm bulletins are repeated) ...
BULLETIN = Bulletin(
    "tin-phong-chong-bao", "Bản tin phòng chống bão",
    "Ủy ban nhân dân xã Tân Lập thông báo: chiều nay các thôn họp về phòng chống bão.")
BULLETIN_VILLAGES = ["thon-dong", "thon-tay", "thon-trung"]
BULLETIN_REPEAT = 2
BULLETIN_GAP_S = 1

# ... and the emergency that interrupts its second airing in two of them. It is pinned
# beforehand, so every agent has it cached before it is needed.
EMERGENCY = Bulletin(
    "tin-khan-cap", "Tin khẩn cấp: bão vào gần",
    "Khẩn cấp: bão đang vào gần, bà con vào nơi trú ẩn.")
EMERGENCY_VILLAGES = ["thon-tay", "thon-trung"]
