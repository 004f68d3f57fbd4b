"""The served OpenAPI document is the contract: schemathesis generates requests from it (valid and
invalid ones, every operation, every check) against the live suite, as an admin and as a rep, and
each answer must be what the document says. A bounded number of examples per operation keeps a run
short; a failure prints schemathesis's report with a curl line to reproduce it.

A few operations have a rule the document cannot state (one field relative to another, a signed
token, a state the record must be in): valid-looking requests to them are refused with a 400 the
document lists but schemathesis counts as "valid data rejected". They are named in KNOWN_GAPS
with the reason, and left out of the run; everything else must pass with zero failures."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

# operationId → why generated "valid" requests are refused (a 400 the document lists)
KNOWN_GAPS = {
    "listTimeline": "its page token is a time cursor only contacts can check",
    "getCustomerCounts": "to_day may not be before from_day",
    "getSupportSummary": "to_day may not be before from_day",
    "listCampaignRoi": "to_day may not be before from_day",
    "getEmailOpenRate": "to_day may not be before from_day",
    "getSalesForecast": "period_end may not be before period_start",
    "createLead": "a lead needs a name or a company (either one)",
    "captureLead": "a lead needs a name or a company (either one)",
    "importLeads": "the CSV's first row must be a header naming name or company",
    "logInteraction": "an interaction needs a subject or content (either one)",
    "completeTask": "a task already done or cancelled cannot be completed again",
    "delegateWork": "ends_at must be in the future and after starts_at",
    "transferOwnership": "from_user_id and to_user_id must differ",
    "mergeContacts": "the survivor may not be among merged_ids",
    "receiveChat": "a long transcript can pass MAX_BODY_BYTES while each message is within its limit",
    "listOwnershipTransfers": "since must be before until",
    "updateSalesSettings": "each policy, rule and pipeline needs a unique id",
    "putMacros": "each macro needs a unique id",
    "changeTicketStatus": "a ticket cannot move to the status it has",
    "receiveEmail": "a message needs a From header with an address",
    "createKbArticle": "an unknown category_id is a 400 (support answers INVALID_ARGUMENT, not NOT_FOUND)",
    "listApprovals": "give a quote_id or pending_for_me=true (either one)",
    "putRoutingRules": "each routing rule needs a unique id",
    "savePriceBook": "each entry's currency must be the book's",
    "createOpportunity": "an amount needs its currency_code (only a price book entry takes the book's)",
    # custom-field keys are the tenant's own definitions: an undefined key is a 400 the document
    # cannot list in advance
    "createAccount": "custom_fields keys must be defined custom fields",
    "updateAccount": "custom_fields keys must be defined custom fields",
    "createContact": "custom_fields keys must be defined custom fields",
    "updateContact": "custom_fields keys must be defined custom fields",
}
# Marketing, audit, privacy, import and the new analytics routes are documented by their own modules
# (routes_marketing*.py and others, being written alongside): their vocabularies and signed links
# are not yet stated in the document.
OTHER_OWNERS = r"^/api/v1/(campaigns|email-templates|send-waves|forms|sequences|automation|ab-tests|audit|" \
               r"privacy|admin|mail-feedback|imports|reports/(forecast|standard|targets|dashboards|saved|query)|public/(unsubscribe|open|click|forms|track))"
EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "2"))


def _st() -> str:
    found = shutil.which("st", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("schemathesis is not installed (requirements.txt, tooling section)")
    return found


@pytest.mark.timeout(900)
@pytest.mark.parametrize("user", ["admin", "rep.north.1"])
def test_every_operation_answers_as_the_document_says(suite: Any, token_for: Callable[[str], str], user: str,
                                                      tmp_path: Path) -> None:
    base = suite.gateway_url
    command = [
        _st(), "run", f"{base}/api/v1/openapi.json", "--url", base,
        "--checks", "all", "--phases", "examples,fuzzing", "--max-examples", str(EXAMPLES), "--workers", "2",
        "--no-shrink", "--request-timeout", "30", "--seed", "20261201",
        "--header", f"Authorization: Bearer {token_for(user)}",
        "--exclude-path-regex", OTHER_OWNERS,
        *[arg for op in sorted(KNOWN_GAPS) for arg in ("--exclude-operation-id", op)],
        "--report", "junit", "--report-dir", str(tmp_path),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=850, cwd=tmp_path,
                         env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""})
    report = run.stdout[-20000:] + run.stderr[-3000:]
    assert run.returncode == 0, report
    assert "Tested:" in run.stdout, report  # it ran operations, it did not stop at the schema
