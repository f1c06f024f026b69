"""Keys every scoped table shares: id length and the composite foreign keys into its project and siblings.

Every row is scoped by `(tenant_id, project_id)`, so a reference to another row carries both, and a row
can never point into another tenant or project.
"""

from __future__ import annotations

from sqlalchemy import ForeignKeyConstraint

__all__ = ["ID_LENGTH", "project_fk", "scoped_fk"]

ID_LENGTH = 255
"""Longest id, in characters."""


def project_fk(ondelete: str | None = None) -> ForeignKeyConstraint:
    """`(tenant_id, project_id)` → the project row."""
    return ForeignKeyConstraint(["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"], ondelete=ondelete)


def scoped_fk(column: str, target: str, ondelete: str) -> ForeignKeyConstraint:
    """`(tenant_id, project_id, column)` → the `target` row with that id in the same project."""
    return ForeignKeyConstraint(
        ["tenant_id", "project_id", column],
        [f"{target}.tenant_id", f"{target}.project_id", f"{target}.id"],
        ondelete=ondelete,
    )
