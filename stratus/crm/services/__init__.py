"""Writes to CRM records, one module per entity; import them from here
(``from stratus.crm import services; services.contact_create(...)``).

Every service takes the organization (``org``) and the acting user (``actor``, None for the
system) and then its fields as typed keyword parameters; an update changes only the fields
passed (the others default to ``UNSET``). It runs in one transaction, refuses bad input with
one ``Invalid`` naming every bad field (nothing is written then), records a timeline entry
with the changed fields' old and new values, and announces the change as a live event
(delivered after commit).

References passed in (company, owner, stage, contacts, ...) may be model instances or ids;
either way they must belong to ``org`` (users: be members of it), else they are a field
error. Records to change are re-read under ``select_for_update`` inside ``org``; a record of
another organization is "not found".

Layout: ``_kit`` holds what every entity shares (the error collector, tenant references,
save, snapshot and diff, and the create / update / delete skeleton); ``companies``,
``contacts``, ``deals`` (with moves), ``pipelines`` (with stages), ``activities``,
``custom_fields``, ``tags`` and ``imports`` (chunks of a CSV import) hold the services.
"""

from stratus.crm.services.activities import activity_create, activity_delete, activity_update
from stratus.crm.services.companies import company_create, company_delete, company_update
from stratus.crm.services.contacts import contact_create, contact_delete, contact_update
from stratus.crm.services.custom_fields import custom_field_create, custom_field_delete, custom_field_update
from stratus.crm.services.deals import CURRENCY_PATTERN, deal_create, deal_delete, deal_move, deal_update
from stratus.crm.services.imports import records_import
from stratus.crm.services.pipelines import (
    DEFAULT_STAGES,
    pipeline_create,
    pipeline_delete,
    pipeline_update,
    stage_create,
    stage_delete,
    stage_update,
    stages_reorder,
)
from stratus.crm.services.tags import tags_for

__all__ = [
    "CURRENCY_PATTERN",
    "DEFAULT_STAGES",
    "activity_create",
    "activity_delete",
    "activity_update",
    "company_create",
    "company_delete",
    "company_update",
    "contact_create",
    "contact_delete",
    "contact_update",
    "custom_field_create",
    "custom_field_delete",
    "custom_field_update",
    "deal_create",
    "deal_delete",
    "deal_move",
    "deal_update",
    "pipeline_create",
    "pipeline_delete",
    "pipeline_update",
    "records_import",
    "stage_create",
    "stage_delete",
    "stage_update",
    "stages_reorder",
    "tags_for",
]
