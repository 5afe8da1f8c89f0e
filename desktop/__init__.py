"""SpaceVoice desktop app (Qt): tray icon, menu, hotkeys, worker thread, dialogs. The only place Qt is imported."""
