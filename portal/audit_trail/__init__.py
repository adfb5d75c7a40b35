"""Reading the audit trail: the admins' browser and CSV export, a case's
trail for the attorneys who run it, ``flask audit verify``, and the daily
log of the chain's head. Writing it is ``portal.audit``."""
