"""The distribution-spec client: auth challenges, manifests, blobs, push; docker config.json (L3)."""
