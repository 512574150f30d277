"""Stories in: fetching and parsing feeds, upserting stories, wire-copy clusters and popularity."""
