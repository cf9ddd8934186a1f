"""The pages and the navigation (served by dashboard/server.py). It only declares the pages and runs the navigation.

Streamlit runs this file as a script with only its own folder on sys.path; the imports below find the project
because the console is started from the project root with `python -m` (dashboard.server, the stack), which puts
that folder on sys.path first.
"""

from pathlib import Path

import streamlit as st

from dashboard.auth import (
    requested_page_path,
    require_person,
    resume_requested_page,
    sign_out_button,
    signed_in_person,
)
from dashboard.context import LANDING_PATH, require_settings

ROOT = Path(__file__).resolve().parent.parent

settings = require_settings()
person = signed_in_person()
# The landing page is where clients' browsers come back from 360dialog: it is the one page a visitor who
# has not signed in may reach, and such a visitor sees no sidebar, no navigation and no other page.
st.set_page_config(
    page_title="WhatsApp onboarding console" if person else "Onboarding",
    page_icon=":material/smartphone:",
    layout="wide",
    # Open on a wide screen, so the first screen shows where to go (and the demo notice); Streamlit collapses
    # it on a phone-sized one. The browser remembers an operator's choice.
    initial_sidebar_state="auto",
)

PAGES = ROOT / "pages"


def operator_pages() -> list[st.Page]:
    pages = [
        # The default page is served at the root; a url_path of its own would only show "Page not found".
        st.Page(PAGES / "home.py", title="Today", icon=":material/home:", default=True),
        st.Page(PAGES / "connect.py", title="Connect", icon=":material/link:", url_path="connect"),
        st.Page(PAGES / "landing.py", title="Redirect landing", icon=":material/login:", url_path=LANDING_PATH),
        st.Page(PAGES / "redirects.py", title="Redirects", icon=":material/fact_check:", url_path="redirects"),
        st.Page(PAGES / "events.py", title="Events", icon=":material/webhook:", url_path="events"),
        st.Page(PAGES / "channels.py", title="Channels and keys", icon=":material/smartphone:", url_path="channels"),
        st.Page(PAGES / "clients.py", title="Clients", icon=":material/storefront:", url_path="clients"),
        st.Page(PAGES / "receiver.py", title="Receiver health", icon=":material/monitor_heart:", url_path="receiver"),
        st.Page(PAGES / "audit.py", title="Audit", icon=":material/history:", url_path="audit"),
        st.Page(PAGES / "alerts.py", title="Alerts", icon=":material/notifications:", url_path="alerts"),
    ]
    if settings.demo_mode:
        pages.append(st.Page(PAGES / "demo.py", title="Demo controls", icon=":material/movie:", url_path="demo"))
    return pages


def sign_in() -> None:
    require_person()


def visitor_pages() -> list[st.Page]:
    """What a visitor who has not signed in may learn of the console: the landing, and the sign-in. The
    navigation is sent to the browser, so no other page's name or path is in it: the sign-in answers at the
    path the browser asked for, whatever it is (so it says nothing of which paths exist), and the page there
    after sign-in is the operator's."""
    pages = [
        st.Page(sign_in, title="Sign in", default=True),
        st.Page(PAGES / "landing.py", title="Onboarding", url_path=LANDING_PATH),
    ]
    asked_for = requested_page_path()
    if asked_for and asked_for not in {LANDING_PATH, "sign_in"}:
        pages.append(st.Page(sign_in, title="Sign in", url_path=asked_for))
    return pages


if person is None:
    navigation = st.navigation(visitor_pages(), position="hidden")
else:
    pages = operator_pages()
    navigation = st.navigation(pages, position="sidebar")
    resume_requested_page(pages, navigation)
    if settings.demo_mode:
        st.sidebar.info("Demo mode: a built-in sandbox hub stands in for 360dialog.", icon=":material/science:")
    sign_out_button(person)
navigation.run()
