"""The web channel: a mobile page, its JSON API and the WeChat Official Account endpoint, in one ASGI app."""
