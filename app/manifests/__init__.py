"""Declarative management: YAML manifests (``apiVersion: chatdock/v1``) applied, read
back, compared and deleted through the same services the CLI, console and API use.

A file is checked whole (every document, the references between them and to existing
objects) before anything is written, then applied in one transaction: all or nothing.
Each kind is one module of :mod:`app.manifests.kinds`, registered in
:data:`app.manifests.kinds.KINDS`.
"""
