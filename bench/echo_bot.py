"""A bare python-telegram-bot echo bot: PTB's defaults, one handler. The reference of bench/bench_cpu.py.

Run like the bot: TELEGRAM_BOT_TOKEN and TELEGRAM_BASE_URL from the environment; stops on SIGTERM.
"""

from __future__ import annotations

import os

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the text back."""
    await update.message.reply_text(update.message.text)


def main() -> None:
    base_url = os.environ["TELEGRAM_BASE_URL"]
    application = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(base_url)
        .base_file_url(base_url.removesuffix("/bot") + "/file/bot")
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    application.run_polling()


if __name__ == "__main__":
    main()
