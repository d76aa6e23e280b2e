"""CLI-only verbs (like `serve`); the shared ones are in dockernb.present.commands."""
