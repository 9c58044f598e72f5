"""The admin web UI: server-rendered pages for platform administrators at `/admin`."""
