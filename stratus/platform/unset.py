"""``UNSET``: the value of a service parameter the caller did not pass.

Partial updates take explicit keyword parameters, each defaulting to ``UNSET`` so that
"leave it as it is" differs from "set it to None"::

    def contact_update(*, org: Organization, actor: User, pk: int,
                       email: str | Unset = UNSET, company_id: int | None | Unset = UNSET) -> Contact:
        ...
        if company_id is not UNSET:
            ...

``given(**params)`` keeps only the parameters that were passed.
"""

from __future__ import annotations

import enum
from typing import Any, Final, Literal, TypeAlias


class _UnsetType(enum.Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = _UnsetType.UNSET
Unset: TypeAlias = Literal[_UnsetType.UNSET]


def given(**params: Any) -> dict[str, Any]:
    """The keyword arguments whose value is not ``UNSET``, in the order given."""
    return {name: value for name, value in params.items() if value is not UNSET}
