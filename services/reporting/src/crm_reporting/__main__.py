from crm_reporting.bootstrap import SPEC
from crmkit.service import run

run(SPEC)
