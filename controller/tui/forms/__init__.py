"""What the workflow tabs (library, schedule, emergency, reports) build on: dialogs, the
programme form, raw transfers (uploads, report files) and shared formatting."""
