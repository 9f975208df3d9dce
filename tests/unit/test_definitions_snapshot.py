"""A snapshot of the code location's wiring, so every change to it shows in review.

Asset keys, groups, partitioning, dependencies, checks, jobs with the assets they select,
schedules and sensors are compared with `snapshots/definitions.json`. After an intended change,
regenerate it with `KAPMAN_UPDATE_SNAPSHOTS=1 pytest tests/unit/test_definitions_snapshot.py`
and review the diff.
"""

import json
import os
from pathlib import Path

from kapman_assets.definitions import defs

SNAPSHOT = Path(__file__).with_name("snapshots") / "definitions.json"


def wiring() -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "partitioned": node.is_partitioned,
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "kinds": sorted(node.kinds),
        }
    checks = {}
    for key in sorted(graph.asset_check_keys, key=lambda k: k.name):
        spec = graph.get_check_spec(key)
        checks[key.name] = {
            "asset": key.asset_key.to_user_string(),
            "blocking": spec.blocking,
            "additional_deps": sorted(d.asset_key.to_user_string() for d in spec.additional_deps),
        }
    jobs = {}
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        jobs[job.name] = {
            "assets": sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys),
            "checks": sorted(k.name for k in job.asset_layer.asset_graph.asset_check_keys),
            "partitioned": job.partitions_def is not None,
        }
    schedules = {
        s.name: {"cron": s.cron_schedule, "timezone": s.execution_timezone, "job": s.job_name}
        for s in defs.schedules
    }
    sensors = {s.name: {"type": type(s).__name__,
                        "target": s.job_name if s.has_jobs else str(s.asset_selection)}
               for s in defs.sensors}  # fmt: skip
    return {"assets": assets, "checks": checks, "jobs": jobs, "schedules": schedules,
            "sensors": sensors}  # fmt: skip


def test_definitions_match_the_reviewed_snapshot():
    current = json.dumps(wiring(), indent=2, sort_keys=True) + "\n"
    if os.environ.get("KAPMAN_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(current)
    assert SNAPSHOT.exists(), "no snapshot yet: run with KAPMAN_UPDATE_SNAPSHOTS=1 and review it"
    assert current == SNAPSHOT.read_text()
