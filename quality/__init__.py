"""Standard-code validators, Great Expectations suites and multi-source cross-checks."""

import logging

# Great Expectations logs at INFO while it imports and runs: about 1,700 "Skipping registering
# function" lines and the like in one report task's log. Set here, before quality.suites imports it.
logging.getLogger("great_expectations").setLevel(logging.WARNING)
