"""The directory of partner organizations and district tables (Open Referral HSDS 3.0 shaped).

Shared by intake, convening and notifier. :mod:`.model` is pure data and queries;
:mod:`.loader` reads and reloads ``deploy/directory/halton.yaml``.
"""

from directory.loader import (
    DirectoryHolder,
    ReferenceCodes,
    category_sectors,
    check_codes,
    load_directory,
    parse_directory,
    reference_codes,
)
from directory.model import (
    TIMEZONE,
    AgencyType,
    AnnualClosure,
    Cadence,
    Channel,
    ContactRole,
    Directory,
    IntakeKeys,
    NoticePreferences,
    Organization,
    RoleContact,
    Status,
    TableSettings,
    Weekday,
)

__all__ = [
    "TIMEZONE",
    "AgencyType",
    "AnnualClosure",
    "Cadence",
    "Channel",
    "ContactRole",
    "Directory",
    "DirectoryHolder",
    "IntakeKeys",
    "NoticePreferences",
    "Organization",
    "ReferenceCodes",
    "RoleContact",
    "Status",
    "TableSettings",
    "Weekday",
    "category_sectors",
    "check_codes",
    "load_directory",
    "parse_directory",
    "reference_codes",
]
