"""The HTTP edge: conditional GET, the rendered-response cache, routes and the app."""
