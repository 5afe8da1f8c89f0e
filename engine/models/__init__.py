"""Models: the catalogue of downloadable models, the local store, verified downloads, and (lazily) exporters.

Runtime code needs only `ModelStore.from_settings(settings).require(name)`; downloading and exporting are for the
``models`` command and the tray's first-run offer. Nothing here imports torch or transformers.
"""

from engine.models.catalogue import TASKS, Catalogue, CatalogueEntry, ModelFile
from engine.models.store import InstalledModel, ModelStore, VerifyReport

__all__ = ["TASKS", "Catalogue", "CatalogueEntry", "InstalledModel", "ModelFile", "ModelStore", "VerifyReport"]
