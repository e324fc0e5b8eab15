"""The one trainer, its objective and its schedules."""
