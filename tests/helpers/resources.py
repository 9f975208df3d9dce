"""Resources for materializing Kapman assets against a test database and a local mirror."""

from kapman_resources.claude import ClaudeResource
from kapman_resources.io_manager import KapmanIOManager
from kapman_resources.providers import LocalFlatFiles, MassiveRest, SavedReference
from kapman_resources.warehouse import PostgresResource


def local_resources(db_url, root) -> dict:
    """The code location's resource keys, on `db_url` and the mirror directory `root`."""
    return {
        "warehouse": PostgresResource(database_url=db_url),
        "warehouse_io_manager": KapmanIOManager(database_url=db_url),
        "flat_files": LocalFlatFiles(directory=str(root)),
        "reference_data": SavedReference(directory=str(root)),
        "market_rest": MassiveRest(key=None),  # no key: flat files only, no network
        "claude": ClaudeResource(),  # no key: rule-based rationales
    }
