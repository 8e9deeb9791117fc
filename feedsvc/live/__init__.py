"""Live publishing: watching the content folder, applying changes, telling WebSub hubs."""
