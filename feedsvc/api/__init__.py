"""The authenticated write API: publish, replace and retract articles over HTTP."""
