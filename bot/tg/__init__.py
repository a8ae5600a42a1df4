"""The Telegram surface: builds the python-telegram-bot Application and its handlers."""
