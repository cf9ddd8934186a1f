"""Entry script: `streamlit run dashboard/app.py`. It only declares the pages and runs the navigation."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Streamlit puts this script's folder on sys.path, not the project's, and the pages import services.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard.context import require_settings  # noqa: E402

st.set_page_config(page_title="WhatsApp onboarding console", page_icon="📱", layout="wide")
settings = require_settings()

PAGES = ROOT / "pages"
navigation = st.navigation(
    [
        st.Page(PAGES / "connect.py", title="Connect", icon="🔗", url_path="connect", default=True),
        st.Page(PAGES / "landing.py", title="Redirect landing", icon="🛬", url_path="landing"),
        st.Page(PAGES / "events.py", title="Events", icon="📨", url_path="events"),
        st.Page(PAGES / "channels.py", title="Channels and keys", icon="📱", url_path="channels"),
    ]
    + ([st.Page(PAGES / "demo.py", title="Demo controls", icon="🎬", url_path="demo")] if settings.demo_mode else [])
)
if settings.demo_mode:
    st.sidebar.info("Demo mode: a built-in sandbox hub stands in for 360dialog.", icon="🧪")
navigation.run()
