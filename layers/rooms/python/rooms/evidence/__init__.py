"""Evidence for billing and compliance: the signed attendance export, retention periods
and legal holds, and the erasure of a person's data. It reads across capabilities (attendance, recordings,
the room) like ``lifecycle``, and is called by it (retention when a room ends, the sweeper's due work);
the audit trail every capability writes is ``rooms.audit``."""
