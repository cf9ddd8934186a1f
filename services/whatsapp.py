"""Meta's WhatsApp vocabulary as 360dialog passes it on: quality ratings, messaging limits, phone numbers.

Shared by the console (what counts as a drop) and the sandbox hub (what it accepts): these are Meta's
values, not a reading of either side.
"""

from __future__ import annotations

import re

# Worst first, so that a lower index is a drop.
QUALITY_RATINGS = ("RED", "YELLOW", "GREEN")
MESSAGING_LIMITS = ("TIER_50", "TIER_250", "TIER_1K", "TIER_2K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED")
# A number as people type it: digits and spaces, an optional leading +.
PHONE_PATTERN = re.compile(r"^\+?[0-9][0-9 ]{5,19}$")
