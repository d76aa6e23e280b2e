"""Verb runners shared by the CLI and the notebook: parse result + engine -> docker's text (layer L7).

Each module has RUNNERS (verb -> function(ns, ctx) -> exit code). Front-end-only verbs (`serve`) live
in their front end (`dockernb/cli/commands/`).
"""
