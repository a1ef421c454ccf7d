"""The web edge: the ballot page, the public pages and the JSON API.

``istifta.web.app:create_app`` builds the ASGI application; ``istifta serve``
runs it with uvicorn.
"""
