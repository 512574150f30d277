"""Sponsorships: sponsors, their campaigns (a creative booked for dates, newsletters, towns and a
position), the slots each frozen edition segment carries, and per-campaign reports.

Sits below rendering (render shows a `slots.SponsorSlot`; sending chooses them when a segment
is frozen) and above curation and ingest; it never imports render or sending.
"""
