"""Package energy from Linux RAPL counters (powercap sysfs), where the kernel exposes them.

Each top-level zone `intel-rapl:N` whose `name` starts with "package" has an
`energy_uj` counter in microjoules that wraps at `max_energy_range_uj`. AMD
CPUs appear under the same `intel-rapl` names on Linux 5.8 and later.
Since 2020 most kernels let only root read `energy_uj`, so a reader may find
zones but no readable counter; it then reports itself unavailable.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

POWERCAP_ROOT = Path("/sys/class/powercap")
_TOP_LEVEL_ZONE = re.compile(r"^intel-rapl:\d+$")


@dataclass(frozen=True)
class RaplZone:
    """One package zone: its folder, name and counter range (microjoules)."""

    path: Path
    name: str
    max_energy_range_uj: int


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def find_package_zones(root: Path = POWERCAP_ROOT) -> list[RaplZone]:
    """Return the package zones under `root` whose energy counter this process can read."""
    zones = []
    if not root.is_dir():
        return zones
    for path in sorted(root.iterdir()):
        if not _TOP_LEVEL_ZONE.match(path.name):
            continue
        try:
            name = (path / "name").read_text(encoding="ascii").strip()
        except OSError:
            continue
        if not name.startswith("package"):
            continue  # "psys" and "dram" zones overlap or sit outside the package
        energy = _read_int(path / "energy_uj")
        limit = _read_int(path / "max_energy_range_uj")
        if energy is None or limit is None or limit <= 0:
            logger.debug("RAPL zone %s has no readable energy_uj or max_energy_range_uj", path)
            continue
        zones.append(RaplZone(path, name, limit))
    return zones


class RaplReader:
    """Reads the summed package energy of every readable RAPL zone under `root`."""

    def __init__(self, root: Path | str = POWERCAP_ROOT) -> None:
        self.root = Path(root)
        self.zones = find_package_zones(self.root)

    @property
    def available(self) -> bool:
        return bool(self.zones)

    def read(self) -> tuple[int, ...]:
        """Return each zone's counter in microjoules; raise OSError when one stops being readable."""
        values = []
        for zone in self.zones:
            value = _read_int(zone.path / "energy_uj")
            if value is None:
                raise OSError(f"cannot read {zone.path / 'energy_uj'}")
            values.append(value)
        return tuple(values)

    def joules_between(self, before: tuple[int, ...], after: tuple[int, ...]) -> float:
        """Return the energy between two readings, in joules, counting one wrap per zone.

        A zone that wraps more than once between readings is undercounted. With
        the common range of 262,143 J (max_energy_range_uj 262143328850), that
        takes over 20 minutes at 200 W.
        """
        total_uj = 0
        for zone, start, end in zip(self.zones, before, after):
            delta = end - start
            if delta < 0:
                delta += zone.max_energy_range_uj + 1
            total_uj += delta
        return total_uj * 1e-6
