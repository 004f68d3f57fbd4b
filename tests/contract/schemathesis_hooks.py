"""Schemathesis hooks for the contract run (SCHEMATHESIS_HOOKS names this file): a relay's
delivery status notification (POST /mail-feedback/dsn) is a mail as text, sent as message/rfc822."""
from __future__ import annotations

import schemathesis

schemathesis.serializer.alias("message/rfc822", "text/plain")
