"""Choosing stories: towns, newsletters, schedules, and which stories go in each section."""
