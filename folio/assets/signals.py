"""What other parts of the assets domain react to, sent inside the writer's transaction.

- version_added(asset, version): a new file version exists (previews, perceptual hash).
- asset_changed(asset_ids, created=None): anything users search or filter by may have
  changed (search index, and later completeness of linked products). `created`, when given,
  maps the id of an asset the sender has just created to (asset, its tag names): that asset,
  with its current_version, is complete in memory, so receivers need not read it back.
- asset_status_changed(asset, old, new): approval or rights state changed (events, webhooks,
  completeness of linked products).
"""

from django.dispatch import Signal

version_added = Signal()
asset_changed = Signal()
asset_status_changed = Signal()
