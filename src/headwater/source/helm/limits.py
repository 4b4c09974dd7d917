"""The bounds of everything Helm the source controller reads, with Flux's flag names and defaults.

One frozen value, built from `--helm-index-max-size`, `--helm-chart-max-size` and
`--helm-chart-file-max-size` (Flux's defaults: 50 MiB, 10 MiB, 5 MiB), plus the bounds Flux leaves to Helm
or has none for: the decompressed size and number of entries of a chart archive, the depth and alias
expansion of its YAML (safeyaml's), the size of an OCI manifest and the pages of a tag list.
"""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1 << 20


@dataclass(frozen=True)
class HelmLimits:
    max_index_size: int = 50 * MiB
    max_chart_size: int = 10 * MiB
    max_chart_file_size: int = 5 * MiB
    #: The sum of a chart's decompressed files (a 10 MiB archive of zeros would otherwise be gigabytes).
    max_chart_total_size: int = 100 * MiB
    max_chart_entries: int = 10_000
    max_manifest_size: int = 4 * MiB
    max_tag_pages: int = 100


DEFAULT_LIMITS = HelmLimits()
