"""What a run must do: the partitions of each asset that are missing or stale (our design).

A partition is *missing* when it was never materialized, and *stale* when an upstream asset
was materialized after it: the same partition of a partitioned parent, or any partition of a
partitioned parent for an unpartitioned asset. Both are what a killed run leaves behind (bars
committed, retention not run; bars replaced, reference data not refreshed), so planning from
them lets the next `kapman demo` finish any interrupted one. Only Dagster's own event log is
read (the latest materialization's storage id per asset partition).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dagster as dg

MATERIALIZATION = dg.DagsterEventType.ASSET_MATERIALIZATION


@dataclass(frozen=True)
class Step:
    """One run: these assets of `job`, over these partitions (None: unpartitioned)."""

    job: str
    assets: tuple[dg.AssetKey, ...]
    partitions: tuple[str, ...] | None

    def tags(self) -> dict[str, str]:
        """One partition, or a single-run range over the step's partitions (spanning any gaps)."""
        if self.partitions is None:
            return {}
        if len(self.partitions) == 1:
            return {"dagster/partition": self.partitions[0]}
        return {"dagster/asset_partition_range_start": self.partitions[0],
                "dagster/asset_partition_range_end": self.partitions[-1]}  # fmt: skip


class _EventLog:
    """Latest materialization storage ids, read once per asset."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance
        self._by_partition: dict[dg.AssetKey, dict[str, int]] = {}

    def by_partition(self, key: dg.AssetKey) -> dict[str, int]:
        if key not in self._by_partition:
            self._by_partition[key] = dict(
                self.instance.get_latest_storage_id_by_partition(key, MATERIALIZATION)
            )
        return self._by_partition[key]

    def latest(self, key: dg.AssetKey, partitioned: bool) -> int:
        """The newest materialization of the asset (any partition); 0 when there is none."""
        if partitioned:
            return max(self.by_partition(key).values(), default=0)
        records = self.instance.fetch_materializations(key, limit=1).records
        return records[0].storage_id if records else 0


def plan(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    jobs: Sequence[dg.UnresolvedAssetJobDefinition],
    partition_keys: Sequence[str],
    keys_by_job: Mapping[str, Sequence[str]] | None = None,
    force: Mapping[dg.AssetKey, Sequence[str]] | None = None,
) -> list[Step]:
    """The runs that bring every asset of `jobs` up to date over `partition_keys` (or the job's
    own keys in `keys_by_job`), in order; `force` adds partitions to redo whatever their state
    (a provisional session whose final file has appeared).

    Assets of one job that need exactly the same partitions share a run.
    """
    graph = defs.resolve_asset_graph()
    log = _EventLog(instance)
    todo: dict[dg.AssetKey, tuple[str, ...] | None] = {}  # planned partitions (None: whole)
    steps: list[Step] = []
    for job in jobs:
        keys = (keys_by_job or {}).get(job.name, partition_keys)
        selected = job.selection.resolve(graph)
        for key in (k for k in graph.toposorted_asset_keys if k in selected):
            group = _inseparable(graph, key)  # a multi-asset that cannot run part of itself
            if any(k in todo for k in group):
                continue  # planned with its sibling
            if graph.get(key).is_partitioned:
                stale = set().union(*(
                    _stale_partitions(log, graph, k, _parents(graph, k), keys, todo,
                                      set((force or {}).get(k, ())))
                    for k in group))  # fmt: skip
                if not stale:
                    continue
                planned = tuple(pk for pk in keys if pk in stale)
            else:
                if not any(_stale_whole(log, graph, k, _parents(graph, k), todo) for k in group):
                    continue
                planned = None
            todo.update(dict.fromkeys(group, planned))
            last = steps[-1] if steps else None
            if last and last.job == job.name and last.partitions == planned:
                steps[-1] = Step(job.name, (*last.assets, *group), last.partitions)
            else:
                steps.append(Step(job.name, group, planned))
    return steps


def _parents(graph, key) -> list[dg.AssetKey]:
    return [
        p for p in graph.get(key).parent_keys if graph.has(p) and graph.get(p).is_materializable
    ]


def _inseparable(graph, key) -> tuple[dg.AssetKey, ...]:
    """The key, with the other keys of its multi-asset when that cannot be subset."""
    assets_def = graph.assets_def_for_key(key)
    if assets_def.can_subset or len(assets_def.keys) == 1:
        return (key,)
    return (key, *sorted(k for k in assets_def.keys if k != key))


def _stale_partitions(log, graph, key, parents, partition_keys, todo, forced) -> tuple[str, ...]:
    mine = log.by_partition(key)
    upstream = [log.by_partition(p) for p in parents if graph.get(p).is_partitioned]
    replanned = set().union(forced, *(todo.get(p) or () for p in parents))
    return tuple(
        pk for pk in partition_keys
        if pk not in mine or pk in replanned or any(u.get(pk, 0) > mine[pk] for u in upstream)
    )  # fmt: skip


def _stale_whole(log, graph, key, parents, todo) -> bool:
    mine = log.latest(key, partitioned=False)
    if not mine or any(p in todo for p in parents):
        return True
    return any(log.latest(p, graph.get(p).is_partitioned) > mine for p in parents)
