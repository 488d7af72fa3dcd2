"""The sizes `chibo generate --scale` knows (issue 10): a ward, seed 004's district, a city, a nation.

A district is seed 004's Mê Linh (68 base organisations, 417 cells, 9,255 members); a city is 48 such
districts (~20,000 cells, ~500,000 members: Hà Nội's order of size); a nation 12 cities' worth, laid out as
one tree (the tree has no level above the city).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    districts: int
    base_orgs: int  # per district
    cells: int  # per district
    members: int  # per district
    merges: int  # cell mergers per district on 1 July (the 2025 reorganisation)


SCALES: dict[str, Scale] = {
    "ward": Scale("ward", 1, 4, 24, 540, 1),
    "district": Scale("district", 1, 68, 417, 9_255, 3),
    "city": Scale("city", 48, 68, 417, 10_417, 3),
    "nation": Scale("nation", 576, 68, 417, 10_417, 3),
}
