"""Home: the day's picture first — channels by stage, what needs attention now, firing alerts, the last sync,
the last webhook and the last key-health round — each with a link into its page."""

import streamlit as st

from dashboard.context import get_db, require_settings
from dashboard.home_views import day_picture_view
from services.read_models.today import day_picture

settings = require_settings()
st.title("Today")
picture = day_picture(get_db(), stuck_after_minutes=settings.stuck_after_minutes, public_url=settings.public_url)
day_picture_view(picture)
