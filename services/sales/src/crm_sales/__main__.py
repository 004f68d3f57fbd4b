from crm_sales.bootstrap import SPEC
from crmkit.service import run

run(SPEC)
